// A STUN reflector on the simulated network: a DHT peer that is not a relay (every PAVE node
// answers STUN Binding requests on its port). Clients learn their reflexive address from these
// and from the relays; a test that silences every relay still leaves the client its reflectors.
#pragma once
#include <cstdint>

#include "relay/wire/endpoint.h"
#include "tests/sim/sim_network.h"

namespace pave::sim {

class SimReflector {
public:
    SimReflector(SimNetwork& net, const Endpoint& at);
    ~SimReflector();
    const Endpoint& endpoint() const { return sock_.local(); }
    uint64_t answered() const { return answered_; }

private:
    SimNetwork& net_;
    SimSocket& sock_;
    uint64_t answered_ = 0;
};

}  // namespace pave::sim
