// `pave stun-probe`: asks one STUN server for this host's public (mapped) address.
#pragma once
#include <string>

namespace pave {

int run_stun_probe(const std::string& server, const std::string& bind, unsigned timeout_ms);

}  // namespace pave
