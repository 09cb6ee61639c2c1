#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <set>

#include "relay/wire/replay_window.h"

using namespace pave;

namespace {
constexpr uint64_t W = ReplayWindow::kWindow;

// check() then accept(), as a receiver does after authentication.
bool take(ReplayWindow& w, uint64_t c) {
    if (!w.check(c)) return false;
    w.accept(c);
    return true;
}
}  // namespace

TEST_CASE("replay window: counter 0 first, then duplicates rejected") {
    ReplayWindow w;
    CHECK(w.empty());
    CHECK(w.check(0));
    CHECK(take(w, 0));
    CHECK_FALSE(w.empty());
    CHECK(w.highest() == 0);
    CHECK_FALSE(w.check(0));
    CHECK_FALSE(take(w, 0));
    CHECK(take(w, 1));
    CHECK_FALSE(take(w, 0));
    CHECK_FALSE(take(w, 1));
}

TEST_CASE("replay window: in order") {
    ReplayWindow w;
    for (uint64_t c = 0; c < 10000; ++c) REQUIRE(take(w, c));
    for (uint64_t c = 10000 - W; c < 10000; ++c) CHECK_FALSE(w.check(c));
    CHECK(w.highest() == 9999);
}

TEST_CASE("replay window: out of order within the window") {
    ReplayWindow w;
    CHECK(take(w, 100));
    CHECK(take(w, 50));
    CHECK(take(w, 99));
    CHECK(take(w, 0));
    CHECK_FALSE(take(w, 50));
    CHECK_FALSE(take(w, 99));
    CHECK(take(w, 101));
    CHECK(take(w, 98));
    CHECK(w.highest() == 101);
}

TEST_CASE("replay window: exact edge of the window") {
    ReplayWindow w;
    const uint64_t h = 5000;
    CHECK(take(w, h));
    CHECK_FALSE(w.check(h - W));      // at highest - window: too old
    CHECK_FALSE(w.check(h - W - 1));
    CHECK_FALSE(w.check(0));
    CHECK(w.check(h - W + 1));        // just inside
    CHECK(take(w, h - W + 1));
    CHECK_FALSE(take(w, h - W + 1));
    // Moving the top by one pushes h - W + 1 out.
    CHECK(take(w, h + 1));
    CHECK_FALSE(w.check(h - W + 1));
    CHECK(w.check(h - W + 2));
}

TEST_CASE("replay window: big jumps forget the old bitmap") {
    ReplayWindow w;
    for (uint64_t c = 0; c < 100; ++c) REQUIRE(take(w, c));
    CHECK(take(w, 1'000'000));
    // Everything below the new window is too old; everything inside it is fresh, including
    // counters whose bitmap slots were used before the jump.
    CHECK_FALSE(w.check(50));
    for (uint64_t c = 1'000'000 - W + 1; c < 1'000'000; ++c) REQUIRE(w.check(c));
    CHECK_FALSE(w.check(1'000'000));
    // A jump of exactly one window plus a few words.
    CHECK(take(w, 1'000'000 + W + 130));
    for (uint64_t c = 1'000'000 + 131; c < 1'000'000 + W + 130; ++c) REQUIRE(w.check(c));
    CHECK_FALSE(w.check(1'000'000 + 130));
}

TEST_CASE("replay window: wraparound of the bitmap words") {
    ReplayWindow w;
    // Accept every other counter across many ring revolutions, then check that the window
    // reflects exactly the recent ones.
    for (uint64_t c = 0; c < 20 * W; c += 2) REQUIRE(take(w, c));
    const uint64_t h = 20 * W - 2;
    CHECK(w.highest() == h);
    for (uint64_t c = h - W + 1; c <= h; ++c) {
        if (c % 2 == 0) {
            REQUIRE_FALSE(w.check(c));
        } else {
            REQUIRE(w.check(c));
        }
    }
    // Advances that cross word boundaries by small and large steps keep stale bits cleared.
    ReplayWindow v;
    CHECK(take(v, 63));
    CHECK(take(v, 64));
    CHECK(take(v, 63 + W));  // 63 leaves the window
    CHECK_FALSE(v.check(63));
    CHECK_FALSE(v.check(64));  // already accepted and still inside
    CHECK(v.check(65));
    CHECK(take(v, 64 + 2 * W));  // a slot that aliases 64's earlier word
    CHECK(v.check(64 + W + 1));
    CHECK_FALSE(v.check(64 + W));
}

TEST_CASE("replay window: top of the counter space") {
    ReplayWindow w;
    const uint64_t m = std::numeric_limits<uint64_t>::max();
    CHECK(take(w, m - 1));
    CHECK(take(w, m));
    CHECK_FALSE(take(w, m));
    CHECK_FALSE(take(w, m - 1));
    CHECK(take(w, m - 2));
    CHECK_FALSE(w.check(m - W));
    CHECK_FALSE(w.check(0));
}

TEST_CASE("replay window: accept() ignores counters check() rejects") {
    ReplayWindow w;
    w.accept(10'000);
    w.accept(5);  // too old: must not disturb the state
    CHECK(w.highest() == 10'000);
    CHECK_FALSE(w.check(5));
    CHECK(w.check(10'000 - 1));
}

TEST_CASE("replay window: agrees with a reference model on random traffic") {
    std::mt19937_64 rng(12345);
    ReplayWindow w;
    std::set<uint64_t> seen;
    uint64_t highest = 0;
    bool any = false;
    uint64_t top = 0;
    for (int i = 0; i < 200000; ++i) {
        // Mostly forward with reordering and duplicates, sometimes a leap.
        uint64_t c;
        const uint64_t r = rng() % 100;
        if (r < 2) {
            top += rng() % (3 * W);
        } else {
            top += rng() % 3;
        }
        const uint64_t back = rng() % (W + 200);
        c = back > top ? 0 : top - back;
        const bool expect = !any || c > highest || (highest - c < W && !seen.count(c));
        REQUIRE(w.check(c) == expect);
        if (expect) {
            w.accept(c);
            seen.insert(c);
            if (!any || c > highest) highest = c;
            any = true;
        }
        // Keep the model small.
        if (seen.size() > 4 * W) seen.erase(seen.begin(), seen.lower_bound(highest - W));
    }
}
