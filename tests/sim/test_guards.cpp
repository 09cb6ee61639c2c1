// Guards against a Sybil operator: half of the directory's relays belong to one operator (they
// work: they answer and relay). One client connects 100 times (`pave connect` run again, its
// guard state kept in between, as the state dir keeps it); printed: how many distinct relays
// carried its sessions and how many of them were the operator's, with and without guards.
#include <doctest/doctest.h>

#include <cstdlib>
#include <set>

#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

struct Exposure {
    size_t distinct = 0, sybils = 0, reconnects = 0;
    size_t sybil_guards = 0;  // among the guards chosen
};

Exposure reconnect_100(uint64_t seed, size_t guards) {
    Swarm s(seed, DhtParams{50ms, 50ms, 100ms, 0.0, 0.0});
    s.add_vpn();
    std::set<Ed25519Public> sybil;
    // Every relay on a network of its own (a /24 each: the operator rents addresses widely, the
    // worst case for address diversity), odd ones the operator's.
    for (int i = 0; i < 40; ++i) {
        SimRelay& r = s.add_relay({}, {}, "198.18." + std::to_string(i) + ".10:4500");
        if (i % 2) sybil.insert(r.node_pub());
    }
    s.run_for(2s);  // every relay has announced
    std::set<Ed25519Public> used;
    Exposure e;
    std::string state;  // the state dir's guard file, from one run of `pave connect` to the next
    for (int i = 0; i < 100; ++i) {
        ClientEngineConfig cfg;
        cfg.guards = guards;
        cfg.min_relay_age_s = 0;
        cfg.guard_state = state;
        SimClient& c = s.add_client(cfg);
        c.start();
        REQUIRE(s.run_until([&] { return c.step() == Step::connected && c.engine().relay(); }, 30s));
        used.insert(c.engine().relay()->node_pub);
        ++e.reconnects;
        if (i == 0)
            for (const auto& g : c.engine().guards().guards()) e.sybil_guards += sybil.count(g.node_pub);
        s.run_for(20s);
        c.close();
        state = c.guard_state();
        if (guards) REQUIRE(!state.empty());
        s.run_for(10s);
    }
    e.distinct = used.size();
    for (const auto& u : used) e.sybils += sybil.count(u);
    return e;
}

}  // namespace

TEST_CASE("guards: a Sybil operator holding half the directory; exposure is decided at guard selection") {
    const uint64_t seed = 81;
    Exposure without = reconnect_100(seed, 0);
    Exposure with = reconnect_100(seed, 3);
    MESSAGE("40 relays, 20 of them one operator's; 100 reconnects of one client: without guards "
            << without.distinct << " distinct relays carried its sessions, " << without.sybils
            << " of them the operator's; with 3 guards " << with.distinct << " distinct, " << with.sybils
            << " the operator's (" << with.sybil_guards << " of the 3 guards were the operator's)");
    CHECK(without.distinct > 10);
    CHECK(without.sybils > 3);
    CHECK(with.distinct <= 3);                    // only guards carried sessions
    CHECK(with.sybils == with.sybil_guards);      // what the guard choice decided, no more
}
