// `pave wg up|down|attach|detach`: WireGuard through PAVE with the user's own config or
// interface. Each runs PAVE's client role in this process (node/node.h, as `pave connect`),
// and changes the system only through the real tools (node/wg_quick.h), recording what it
// made (node/wg_state.h) so that nothing is left behind, even after a `kill -9`.
//
//   up CONFIG      parse the wg-quick file (never modified), resolve its Endpoint before
//                  anything changes, start PAVE on a free loopback port, then `wg-quick up` a
//                  derived file pointing there; in the foreground until SIGTERM/SIGINT or a
//                  fatal failure, then `wg-quick down` and the records removed
//   down CONFIG    stop the running `up` (SIGTERM, then wait), or clean up after a dead one
//   attach IFACE   an interface the user runs already: repoint one peer's endpoint at PAVE,
//                  restore it when stopped
//   detach IFACE   stop the running `attach`, or restore the endpoint after a dead one
//
// Exit codes: 0 done, 1 failure, 2 usage error (bad file name or config contents).
#pragma once
#include <string>

#include "node/node.h"

namespace pave {

int run_wg_up(const std::string& config_path, bool run_hooks, NodeOptions node);
int run_wg_down(const std::string& config_path);
int run_wg_attach(const std::string& iface, const std::string& peer, NodeOptions node);
int run_wg_detach(const std::string& iface);

}  // namespace pave
