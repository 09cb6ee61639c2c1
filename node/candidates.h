// Address candidates of a role's socket: the reflexive address first, then the host's own
// interface addresses (for peers on the same network), at most kRendezvousMaxCandidates.
#pragma once
#include <optional>
#include <vector>

#include "relay/endpoint.h"

namespace pave {

std::vector<Endpoint> gather_candidates(const Endpoint& bound, const std::optional<Endpoint>& reflexive,
                                        size_t max_candidates);

}  // namespace pave
