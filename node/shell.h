// `pave shell`: the debug shell attached to a running node's control socket.
#pragma once
#include <string>

namespace pave {

// Runs one command (when command is non-empty) or an interactive session with line editing
// and history. Returns the process exit code.
int run_shell(const std::string& socket_path, const std::string& command, const std::string& history_path);

}  // namespace pave
