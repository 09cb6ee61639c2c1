// Everything simulated parties share: the virtual clock, the event queue, the seeded
// randomness, the network and the DHT. One world per test case; nothing in it reads the wall
// clock or touches a real socket. The engines' own randomness (session ids, keys, STUN ids,
// the choice among relays) is seeded too, while the world lives (DeterministicRandomForTests),
// so a seed replays a case exactly.
#pragma once
#include <cstdint>

#include "crypto/random.h"

#include "tests/sim/event_queue.h"
#include "tests/sim/sim_clock.h"
#include "tests/sim/sim_dht.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_random.h"

namespace pave::sim {

struct SimWorld {
    explicit SimWorld(uint64_t seed, DhtParams dht_params = {})
        : engine_random(seed ^ 0x5eed5eed5eed5eedull), rng(seed), dht(events, rng, dht_params) {}
    SimWorld(const SimWorld&) = delete;
    SimWorld& operator=(const SimWorld&) = delete;

    EngineTime now() const { return clock.now(); }

    DeterministicRandomForTests engine_random;
    VirtualClock clock;
    EventQueue events{clock};
    SimRandom rng;
    SimNetwork net{events, rng};
    SimDht dht;
};

}  // namespace pave::sim
