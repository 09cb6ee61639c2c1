// What `pave wg up` / `pave wg attach` made, recorded in a private runtime directory so that
// `pave wg down` / `detach`, a second `up` after a `kill -9`, and `pave status` can find it:
//   /run/pave/wg/IFACE/        mode 0700, one per interface
//     state                    this record ("key value" lines, mode 0600)
//     IFACE.conf               the derived wg-quick file (`up` only; holds the private key)
//     control.sock             the running process's control socket
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "node/config/wg_state_record.h"

namespace pave {

inline constexpr const char* kWgRuntimeBase = "/run/pave/wg";

// The record's fields and text: node/config/wg_state_record.h.
using WgState = WgRecord;

// The runtime directory of an interface (the base may be moved with $PAVE_RUNTIME_DIR, for tests).
std::string wg_runtime_base();
std::string wg_runtime_dir(const std::string& iface);
inline std::string wg_state_path(const std::string& dir) { return dir + "/state"; }
inline std::string wg_control_path(const std::string& dir) { return dir + "/control.sock"; }

// Creates the directory (and its parents) mode 0700. "" or a one-line error.
std::string prepare_wg_runtime_dir(const std::string& dir);
// Writes the record atomically (temporary file, then rename), mode 0600. "" or an error.
std::string write_wg_state(const std::string& dir, const WgState& s);
// nullopt if there is no record; `error` set if there is one that cannot be read.
std::optional<WgState> read_wg_state(const std::string& dir, std::string& error);
// Removes the record, the derived file and the control socket, then the directory if empty.
void remove_wg_runtime(const std::string& dir, const WgState& s);
// Interfaces with a runtime directory.
std::vector<std::string> wg_runtime_interfaces();

// True if `pid` runs, is this same program (its /proc/PID/exe is ours) and has a `wg`
// argument: a `pave wg ...` process, not a reused pid.
bool pave_wg_process_alive(int64_t pid);
// The interface's lock, held by the running `pave wg up/attach` for its whole life
// (BASE/.IFACE.lock, flock): a second one for the same interface is refused, however close in
// time they start. Returns the open descriptor (kept open, close-on-exec), or -1 with `error`.
int lock_wg_interface(const std::string& iface, std::string& error);
// True if a network interface of this name exists in this namespace.
bool interface_exists(const std::string& iface);

}  // namespace pave
