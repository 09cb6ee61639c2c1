#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "relay/punch_schedule.h"

using namespace pave;
using namespace std::chrono_literals;
using tp = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

namespace {
const tp t0 = tp{} + 1000s;

// Fires every round exactly when due; returns the offsets (ms) of the rounds.
std::vector<long> run(PunchSchedule& s) {
    std::vector<long> at;
    tp now = t0;
    for (int guard = 0; guard < 1000; ++guard) {
        auto n = s.next(now);
        if (!n) break;
        now = std::max(now, *n);
        REQUIRE(s.due(now));
        s.fired(now);
        at.push_back(long(std::chrono::duration_cast<milliseconds>(now - t0).count()));
    }
    return at;
}
}  // namespace

TEST_CASE("punch schedule: fast rounds, then doubling, then 1 s, until the timeout") {
    PunchSchedule s(t0, 20s);
    const auto at = run(s);
    const std::vector<long> head = {0, 50, 100, 150, 200, 250, 300, 350, 400, 450,
                                    550, 750, 1150, 1950, 2950, 3950};
    REQUIRE(at.size() > head.size());
    for (size_t i = 0; i < head.size(); ++i) CHECK(at[i] == head[i]);
    for (size_t i = 15; i < at.size(); ++i) CHECK(at[i] - at[i - 1] == 1000);
    CHECK(at.back() < 20000);
    CHECK(at.back() + 1000 >= 20000);
    CHECK(at.size() == 32);
    CHECK(s.rounds() == 32);
    CHECK_FALSE(s.next(t0 + 19999ms));
    CHECK_FALSE(s.due(t0 + 25s));
    CHECK(s.expired(t0 + 20s));
    CHECK_FALSE(s.expired(t0 + 19999ms));
}

TEST_CASE("punch schedule: gaps") {
    CHECK(PunchSchedule::gap_before(1) == 50ms);
    CHECK(PunchSchedule::gap_before(9) == 50ms);
    CHECK(PunchSchedule::gap_before(10) == 100ms);
    CHECK(PunchSchedule::gap_before(11) == 200ms);
    CHECK(PunchSchedule::gap_before(12) == 400ms);
    CHECK(PunchSchedule::gap_before(13) == 800ms);
    CHECK(PunchSchedule::gap_before(14) == 1000ms);
    CHECK(PunchSchedule::gap_before(1000) == 1000ms);
    CHECK(PunchSchedule::gap_before(4'000'000'000u) == 1000ms);
}

TEST_CASE("punch schedule: total rounds bounded even with a huge timeout") {
    PunchSchedule s(t0, milliseconds(24h));
    const auto at = run(s);
    CHECK(at.size() == PunchSchedule::kMaxRounds);
    CHECK(s.rounds() == PunchSchedule::kMaxRounds);
    CHECK_FALSE(s.next(t0 + 1h));
    CHECK_FALSE(s.expired(t0 + 1h));  // exhausted, not yet timed out
}

TEST_CASE("punch schedule: first round due at start; not due early; late timers do not burst") {
    PunchSchedule s(t0, 5s);
    CHECK_FALSE(s.due(t0 - 1ms));
    REQUIRE(s.next(t0));
    CHECK(*s.next(t0) == t0);
    CHECK(s.due(t0));
    s.fired(t0);
    CHECK(*s.next(t0) == t0 + 50ms);
    CHECK_FALSE(s.due(t0 + 49ms));
    CHECK(s.due(t0 + 50ms));
    // The loop woke up late: the next gap counts from the actual firing.
    s.fired(t0 + 300ms);
    CHECK(*s.next(t0 + 300ms) == t0 + 350ms);
    CHECK_FALSE(s.due(t0 + 349ms));
    CHECK(s.rounds() == 2);
}

TEST_CASE("punch schedule: zero or tiny timeout") {
    PunchSchedule z(t0, 0ms);
    CHECK(z.expired(t0));
    CHECK_FALSE(z.next(t0));
    CHECK_FALSE(z.due(t0));
    PunchSchedule s(t0, 120ms);
    const auto at = run(s);
    CHECK(at == std::vector<long>{0, 50, 100});
    CHECK_FALSE(s.next(t0 + 100ms));
}
