// `pave status [--json]`: what PAVE runs on this host, read from the running processes.
// It finds them by their control sockets: each `pave wg up`/`attach` under /run/pave/wg/IFACE/
// (node/wg_state.h), and `pave node` / `pave connect` in the state directory. From each it
// asks `status --json` and `sessions --json` (pave.status.v1, pave.sessions.v1), and for a
// WireGuard interface `wg show IFACE dump` (handshake age, bytes each way). The text form is
// laid out like `wg show`; the JSON form (schema pave.overview.v1) is documented in README.
#pragma once
#include <string>

namespace pave {

// Exit code: 0 (also when nothing runs), 1 if a recorded process cannot be asked.
int run_status(const std::string& state_dir, bool json);

}  // namespace pave
