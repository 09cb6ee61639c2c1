#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "relay/wire/endpoint.h"
#include "relay/rate_limiter.h"

using namespace pave;
using namespace std::chrono_literals;
using tp = std::chrono::steady_clock::time_point;

namespace {
const tp t0 = tp{} + 1000s;

Bytes ip4(uint32_t v) { return Bytes{uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }
}  // namespace

TEST_CASE("token bucket: burst then refill at the rate") {
    TokenBucket b(10.0, 5.0);  // 10/s, burst 5
    for (int i = 0; i < 5; ++i) CHECK(b.take(t0));
    CHECK_FALSE(b.take(t0));
    CHECK_FALSE(b.take(t0 + 50ms));   // 0.5 token
    CHECK(b.take(t0 + 100ms));        // 1 token after 100 ms
    CHECK_FALSE(b.take(t0 + 100ms));
    // A long idle period refills only up to the burst.
    const tp later = t0 + 1h;
    for (int i = 0; i < 5; ++i) CHECK(b.take(later));
    CHECK_FALSE(b.take(later));
}

TEST_CASE("token bucket: n tokens at once, invalid n, time going backwards") {
    TokenBucket b(1.0, 3.0);
    CHECK_FALSE(b.take(t0, 4));
    CHECK(b.take(t0, 3));
    CHECK_FALSE(b.take(t0, 0.5));
    CHECK_FALSE(b.take(t0, 0));
    CHECK_FALSE(b.take(t0, -1));
    CHECK_FALSE(b.take(t0, std::nan("")));
    // Earlier time: no refill, and the later time stays the reference.
    CHECK_FALSE(b.take(t0 - 10s));
    CHECK(b.available(t0 + 1s) == doctest::Approx(1.0));
    CHECK(b.take(t0 + 1s));
    CHECK_FALSE(b.take(t0 + 1s));
}

TEST_CASE("token bucket: zero, negative and non-finite parameters") {
    TokenBucket z(0.0, 0.0);
    CHECK_FALSE(z.take(t0));
    CHECK_FALSE(z.take(t0 + 1h));
    TokenBucket neg(-5.0, -1.0);
    CHECK(neg.rate() == 0.0);
    CHECK(neg.burst() == 0.0);
    CHECK_FALSE(neg.take(t0));
    TokenBucket inf(std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity());
    CHECK_FALSE(inf.take(t0));
    TokenBucket no_refill(0.0, 2.0);
    CHECK(no_refill.take(t0));
    CHECK(no_refill.take(t0));
    CHECK_FALSE(no_refill.take(t0 + 1h));
}

TEST_CASE("keyed limiter: keys are independent") {
    KeyedRateLimiter l(1.0, 2.0, 100);
    const Bytes a = ip4(0xC0000201), b = ip4(0xC0000202);
    CHECK(l.allow(a, t0));
    CHECK(l.allow(a, t0));
    CHECK_FALSE(l.allow(a, t0));
    CHECK(l.allow(b, t0));
    CHECK(l.allow(b, t0));
    CHECK_FALSE(l.allow(b, t0));
    CHECK(l.allow(a, t0 + 1s));
    CHECK_FALSE(l.allow(a, t0 + 1s));
    CHECK(l.size() == 2);
}

TEST_CASE("keyed limiter: endpoint keys ignore the port") {
    KeyedRateLimiter l(0.0, 1.0, 10);
    auto e1 = Endpoint::parse("198.51.100.7:1000");
    auto e2 = Endpoint::parse("198.51.100.7:2000");
    auto e3 = Endpoint::parse("[2001:db8::7]:1000");
    REQUIRE(e1);
    REQUIRE(e2);
    REQUIRE(e3);
    CHECK(l.allow(*e1, t0));
    CHECK_FALSE(l.allow(*e2, t0));
    CHECK(l.allow(*e3, t0));
    CHECK_FALSE(l.allow(Endpoint{}, t0));
    CHECK(l.size() == 2);
}

TEST_CASE("keyed limiter: memory bounded, least recently used evicted") {
    KeyedRateLimiter l(1.0, 1.0, 3);
    CHECK(l.max_entries() == 3);
    for (uint32_t i = 0; i < 10000; ++i) {
        CHECK(l.allow(ip4(i), t0));
        CHECK(l.size() <= 3);
    }
    CHECK(l.size() == 3);
    CHECK(l.contains(ip4(9999)));
    CHECK(l.contains(ip4(9997)));
    CHECK_FALSE(l.contains(ip4(9996)));

    KeyedRateLimiter m(0.0, 1.0, 2);  // no refill: an evicted key comes back with a fresh bucket
    CHECK(m.allow(ip4(1), t0));
    CHECK(m.allow(ip4(2), t0));
    CHECK_FALSE(m.allow(ip4(1), t0));  // touches 1: now 2 is least recently used
    CHECK(m.allow(ip4(3), t0));        // evicts 2
    CHECK(m.contains(ip4(1)));
    CHECK_FALSE(m.contains(ip4(2)));
    CHECK(m.contains(ip4(3)));
    CHECK_FALSE(m.allow(ip4(1), t0));  // 1 kept its (empty) state
}

TEST_CASE("keyed limiter: deny_new keeps busy entries and admits after they go idle") {
    KeyedRateLimiter l(1.0, 1.0, 2, KeyedRateLimiter::WhenFull::deny_new);
    CHECK(l.allow(ip4(1), t0));
    CHECK(l.allow(ip4(2), t0));
    CHECK_FALSE(l.allow(ip4(3), t0));  // both buckets are empty: keep them
    CHECK(l.size() == 2);
    CHECK_FALSE(l.contains(ip4(3)));
    CHECK_FALSE(l.allow(ip4(1), t0));  // 1 still limited
    // After 1 s the least recently used (2) is full again: evicting it loses nothing.
    CHECK(l.allow(ip4(3), t0 + 1s));
    CHECK(l.contains(ip4(3)));
    CHECK_FALSE(l.contains(ip4(2)));
    CHECK(l.size() == 2);
}

TEST_CASE("keyed limiter: prune drops idle entries only") {
    KeyedRateLimiter l(1.0, 2.0, 10);
    CHECK(l.allow(ip4(1), t0));
    CHECK(l.allow(ip4(2), t0));
    CHECK(l.allow(ip4(2), t0));
    CHECK(l.prune(t0 + 1s) == 1);  // 1 is full again after 1 s, 2 needs 2 s
    CHECK_FALSE(l.contains(ip4(1)));
    CHECK(l.contains(ip4(2)));
    CHECK(l.prune(t0 + 2s) == 1);
    CHECK(l.size() == 0);
    KeyedRateLimiter zero(1.0, 1.0, 0);
    CHECK(zero.max_entries() == 1);
    CHECK(zero.allow(ip4(1), t0));
    CHECK(zero.allow(ip4(2), t0));
    CHECK(zero.size() == 1);
}
