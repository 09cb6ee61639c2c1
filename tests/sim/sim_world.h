// Everything simulated parties share: the virtual clock, the event queue, the seeded
// randomness, the network and the DHT. One world per test case; nothing in it reads the wall
// clock or touches a real socket.
#pragma once
#include <cstdint>

#include "tests/sim/event_queue.h"
#include "tests/sim/sim_clock.h"
#include "tests/sim/sim_dht.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_random.h"

namespace pave::sim {

struct SimWorld {
    explicit SimWorld(uint64_t seed, DhtParams dht_params = {}) : rng(seed), dht(events, rng, dht_params) {}
    SimWorld(const SimWorld&) = delete;
    SimWorld& operator=(const SimWorld&) = delete;

    EngineTime now() const { return clock.now(); }

    VirtualClock clock;
    EventQueue events{clock};
    SimRandom rng;
    SimNetwork net{events, rng};
    SimDht dht;
};

}  // namespace pave::sim
