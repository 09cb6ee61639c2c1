// The node's state directory: the key file and the control socket live here.
#pragma once
#include <string>

namespace pave {

// --state-dir if given, else $STATE_DIRECTORY (set by systemd's StateDirectory=; the first of
// several), else $XDG_STATE_HOME/pave, else ~/.local/state/pave.
std::string default_state_dir();
// Creates the directory (mode 0700) if needed and checks it is writable.
// Returns "" or a one-line error.
std::string prepare_state_dir(const std::string& dir);

inline std::string key_file_path(const std::string& dir) { return dir + "/node.key"; }
inline std::string node_socket_path(const std::string& dir) { return dir + "/node.sock"; }
inline std::string connect_socket_path(const std::string& dir) { return dir + "/connect.sock"; }

}  // namespace pave
