// The virtual clock, the event queue and the seeded randomness of the simulator.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/sim/event_queue.h"
#include "tests/sim/sim_random.h"

using namespace pave::sim;
using namespace std::chrono_literals;

TEST_CASE("sim: the virtual clock moves monotonic and wall time together, never backwards") {
    VirtualClock c;
    auto t0 = c.now();
    CHECK(t0.unix_ms == VirtualClock::kStartUnixMs);
    c.advance(1500ms);
    CHECK(c.now().mono - t0.mono == 1500ms);
    CHECK(c.now().unix_ms == t0.unix_ms + 1500);
    CHECK(c.now().unix_s() == t0.unix_s() + 1);
    c.advance_to(t0.mono);  // the past: ignored
    CHECK(c.now().mono - t0.mono == 1500ms);
}

TEST_CASE("sim: events run in time order, ties in scheduling order, and move the clock") {
    VirtualClock c;
    EventQueue q(c);
    std::vector<std::string> log;
    auto t0 = q.now();
    q.after(30ms, [&] { log.push_back("c@" + std::to_string((q.now() - t0) / 1ms)); });
    q.after(10ms, [&] { log.push_back("a@" + std::to_string((q.now() - t0) / 1ms)); });
    q.after(10ms, [&] {
        log.push_back("b@" + std::to_string((q.now() - t0) / 1ms));
        q.after(5ms, [&] { log.push_back("nested@" + std::to_string((q.now() - t0) / 1ms)); });
    });
    auto id = q.after(20ms, [&] { log.push_back("cancelled"); });
    CHECK(q.cancel(id));
    CHECK_FALSE(q.cancel(id));
    CHECK(q.run_for(25ms) == 3);
    CHECK(log == std::vector<std::string>{"a@10", "b@10", "nested@15"});
    CHECK(q.now() - t0 == 25ms);  // the clock stops at the end of the run, not at the last event
    q.run_for(10ms);
    CHECK(log.back() == "c@30");
    CHECK(q.pending() == 0);
}

TEST_CASE("sim: run_until_true stops at the event that makes it true, or at the limit") {
    VirtualClock c;
    EventQueue q(c);
    int n = 0;
    for (int i = 1; i <= 10; ++i) q.after(i * 100ms, [&] { ++n; });
    auto t0 = q.now();
    CHECK(q.run_until_true([&] { return n == 3; }, 10s));
    CHECK(q.now() - t0 == 300ms);
    CHECK_FALSE(q.run_until_true([&] { return n == 99; }, 2s));
    CHECK(q.now() - t0 == 2300ms);
    CHECK(n == 10);
}

TEST_CASE("sim: the seeded generator repeats per seed and is uniform enough for loss and jitter") {
    SimRandom a(42), b(42), c(43);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        uint64_t x = a.next();
        CHECK(x == b.next());
        differs |= x != c.next();
    }
    CHECK(differs);
    SimRandom r(7);
    int hits = 0;
    for (int i = 0; i < 100000; ++i) hits += r.chance(0.25);
    CHECK(hits > 24000);
    CHECK(hits < 26000);
    for (int i = 0; i < 1000; ++i) CHECK(r.below(10) < 10);
    CHECK_FALSE(r.chance(0));
    CHECK(r.chance(1));
}
