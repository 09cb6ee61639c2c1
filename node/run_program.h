// Runs a system tool (wg-quick, wg, ip) to completion: looked up in PATH, started with
// posix_spawn (safe while OpenDHT's threads run), SIGINT/SIGTERM/SIGPIPE at their defaults and
// no signal blocked in the child, whatever this process does with them, and in a session of its
// own: a Ctrl-C at the terminal (SIGINT to the foreground process group) reaches PAVE, which
// takes everything down in order, and not the wireguard-go that wg-quick leaves running.
#pragma once
#include <string>
#include <vector>

namespace pave {

struct ProgramResult {
    int status = -1;      // the exit code; -1 if it could not start or was killed by a signal
    std::string output;   // stdout when captured (at most 1 MiB kept)
    std::string error;    // why it could not start, or "killed by signal N"
};

// `extra_env`: "NAME=VALUE" entries added to (or replacing those of) this process's
// environment. With `capture`, stdout is returned; otherwise it goes to this process's stderr,
// like the child's stderr always does (wg-quick's "[#] ..." lines end up in the log).
ProgramResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
                          bool capture = false);

// True if `name` is an executable file in one of PATH's directories.
bool program_in_path(const std::string& name);

}  // namespace pave
