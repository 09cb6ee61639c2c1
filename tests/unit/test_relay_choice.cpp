#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "dht/relay_choice.h"

using namespace pave;
using namespace std::chrono_literals;
using Clock = RelayChoice::Clock;

namespace {

std::vector<RelayInfo> relays(size_t n, uint32_t base = 0) {
    std::vector<RelayInfo> out(n);
    for (size_t i = 0; i < n; ++i) {
        uint32_t v = base + uint32_t(i);
        std::memcpy(out[i].node_pub.data(), &v, sizeof v);
    }
    return out;
}

}  // namespace

TEST_CASE("relay choice: calm pace asks one relay every 400 ms, at most 3 waiting") {
    const auto t0 = Clock::now();
    RelayChoice c(t0);
    auto live = relays(10);
    REQUIRE(c.next(live, t0));
    CHECK_FALSE(c.next(live, t0));
    CHECK_FALSE(c.next(live, t0 + 399ms));
    REQUIRE(c.next(live, t0 + 400ms));
    REQUIRE(c.next(live, t0 + 800ms));
    CHECK(c.waiting() == 3);
    CHECK_FALSE(c.next(live, t0 + 1200ms));  // three waiting
    CHECK(c.pace(t0 + 1200ms) == RelayChoice::Pace::calm);
}

TEST_CASE("relay choice: an answer keeps the calm pace and frees a place") {
    const auto t0 = Clock::now();
    RelayChoice c(t0);
    auto live = relays(10);
    auto a = c.next(live, t0);
    REQUIRE(a);
    c.on_answer(a->node_pub);
    CHECK(c.answered() == 1);
    CHECK(c.waiting() == 0);
    CHECK(c.pace(t0 + 3s) == RelayChoice::Pace::calm);  // the swarm answers: no hurry
    auto b = c.next(live, t0 + 400ms);
    REQUIRE(b);
    c.on_cancel(b->node_pub);
    CHECK(c.waiting() == 0);
    CHECK(c.answered() == 1);
    CHECK(c.silent() == 0);
}

TEST_CASE("relay choice: relays that answered before are asked first, nobody twice in a cycle") {
    const auto t0 = Clock::now();
    RelayChoice c(t0);
    auto live = relays(6);
    live[4].answered = true;
    auto first = c.next(live, t0);
    REQUIRE(first);
    CHECK(first->node_pub == live[4].node_pub);
    std::set<Ed25519Public> seen{first->node_pub};
    c.on_answer(first->node_pub);
    auto t = t0;
    for (int i = 0; i < 5; ++i) {
        t += 400ms;
        auto r = c.next(live, t);
        REQUIRE(r);
        CHECK(seen.insert(r->node_pub).second);
        c.on_answer(r->node_pub);
    }
    CHECK(seen.size() == 6);
    CHECK(c.cycles() == 0);
    t += 400ms;
    auto again = c.next(live, t);  // everyone asked, nobody waiting: a new cycle, answered first
    REQUIRE(again);
    CHECK(c.cycles() == 1);
    CHECK(again->node_pub == live[4].node_pub);
    CHECK(c.distinct_asked() == 6);
    CHECK(c.asked() == 7);
}

TEST_CASE("relay choice: nothing to ask in an empty directory, and no new cycle while offers wait") {
    const auto t0 = Clock::now();
    RelayChoice c(t0);
    CHECK_FALSE(c.next({}, t0));
    auto live = relays(1);
    REQUIRE(c.next(live, t0));
    CHECK_FALSE(c.next(live, t0 + 1s));  // asked, still waiting
    CHECK(c.cycles() == 0);
    auto silent = c.take_silent(t0 + 5s);
    REQUIRE(silent.size() == 1);
    CHECK(c.silent() == 1);
    CHECK(c.waiting() == 0);
    REQUIRE(c.next(live, t0 + 5s));  // asked again in a new cycle
    CHECK(c.cycles() == 1);
}

TEST_CASE("relay choice: silence raises the pace to about 20 offers a second, bounded") {
    const auto t0 = Clock::now();
    RelayChoice c(t0);
    auto live = relays(1000);
    auto t = t0;
    std::map<int, int> per_second;
    while (t < t0 + 20s) {
        c.take_silent(t);
        while (c.next(live, t)) per_second[int((t - t0) / 1s)]++;
        t += 100ms;  // the client's tick
    }
    CHECK(per_second[0] == 3);       // calm: 0, 400, 800 ms
    CHECK(per_second[2] >= 8);       // brisk from 1.5 s: 10 a second
    CHECK(per_second[2] <= 11);
    CHECK(per_second[10] >= 27);     // flood once an offer went unanswered for 5 s: 30 a second
    CHECK(per_second[10] <= 34);
    CHECK(c.waiting() <= 150);
    MESSAGE("offers in 20 s with nobody answering: " << c.asked());
    CHECK(c.asked() > 350);
    CHECK(c.asked() < 550);
}

TEST_CASE("relay choice: 300 silent relays and 2 that answer; the client finds one well within 20 s") {
    // The client's loop in memory: a tick every 100 ms, real relays answering 300 ms after an offer.
    std::vector<double> times;
    for (int trial = 0; trial < 200; ++trial) {
        const auto t0 = Clock::now();
        RelayChoice c(t0);
        auto live = relays(302);
        std::set<Ed25519Public> real{live[trial % 302].node_pub, live[(trial * 7 + 1) % 302].node_pub};
        std::map<Ed25519Public, Clock::time_point> pending;
        std::optional<Clock::time_point> won;
        for (auto t = t0; t < t0 + 30s && !won; t += 100ms) {
            for (auto it = pending.begin(); it != pending.end();) {
                if (it->second <= t) {
                    c.on_answer(it->first);
                    won = t;
                    break;
                }
                ++it;
            }
            c.take_silent(t);
            while (auto r = c.next(live, t))
                if (real.count(r->node_pub)) pending[r->node_pub] = t + 300ms;
        }
        REQUIRE(won);
        times.push_back(double(std::chrono::duration_cast<std::chrono::milliseconds>(*won - t0).count()) / 1000.0);
    }
    std::sort(times.begin(), times.end());
    MESSAGE("time to the first answer, 200 trials: median " << times[100] << " s, 90th percentile " << times[180]
                                                            << " s, max " << times.back() << " s");
    CHECK(times[100] < 10.0);
    CHECK(times.back() < 16.0);
}
