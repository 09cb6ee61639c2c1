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

namespace pave {

inline constexpr const char* kWgRuntimeBase = "/run/pave/wg";

struct WgState {
    std::string mode;               // "up" or "attach"
    pid_t pid = 0;                  // the process that runs PAVE for the interface
    std::string iface;
    std::string config;             // up: the user's file, as given
    std::string derived;            // up: the derived wg-quick file
    std::string local;              // PAVE's local port, "127.0.0.1:PORT"
    std::string vpn;                // the VPN endpoint PAVE relays to (numeric)
    std::string peer;               // attach: the peer's public key
    std::string original_endpoint;  // attach: the endpoint to restore
    bool interface_up = false;      // up: wg-quick up succeeded (down must run wg-quick down)
};

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

// True if `pid` runs and is a `pave wg ...` process (not a reused pid).
bool pave_wg_process_alive(pid_t pid);
// True if a network interface of this name exists in this namespace.
bool interface_exists(const std::string& iface);

}  // namespace pave
