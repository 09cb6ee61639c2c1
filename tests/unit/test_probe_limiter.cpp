#include <doctest/doctest.h>

#include <string>

#include "relay/probe_limiter.h"

using namespace pave;
using namespace std::chrono_literals;

namespace {
Endpoint ep(const std::string& text) { return *Endpoint::parse(text); }
const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
}  // namespace

TEST_CASE("probe limiter: burst then rate, per destination group") {
    ProbeLimiter l(1000, 100, 16);
    CHECK(l.take(ep("198.51.100.1:1"), 600, t0));
    CHECK(l.take(ep("198.51.100.1:2"), 400, t0));  // another port, same group
    CHECK_FALSE(l.take(ep("198.51.100.1:3"), 1, t0));
    CHECK(l.take(ep("198.51.100.2:1"), 1000, t0));  // another address: its own bucket
    CHECK_FALSE(l.take(ep("198.51.100.1:1"), 100, t0 + 500ms));
    CHECK(l.take(ep("198.51.100.1:1"), 100, t0 + 1s));
    CHECK(l.refused() == 2);
    CHECK(l.allowed_bytes() == 2100);
}

TEST_CASE("probe limiter: IPv6 counts per /64, IPv4-mapped as IPv4") {
    ProbeLimiter l(100, 0, 16);
    CHECK(l.take(ep("[2001:db8:1:2::1]:1"), 100, t0));
    CHECK_FALSE(l.take(ep("[2001:db8:1:2:ffff::9]:1"), 1, t0));
    CHECK(l.take(ep("[2001:db8:1:3::1]:1"), 100, t0));
    CHECK(l.take(ep("192.0.2.9:1"), 100, t0));
    CHECK_FALSE(l.take(ep("[::ffff:192.0.2.9]:1"), 1, t0));
    CHECK_FALSE(l.take(Endpoint{}, 1, t0));
}

TEST_CASE("probe limiter: a full table of busy groups refuses new ones; idle ones make room") {
    ProbeLimiter l(100, 10, 4);
    for (int i = 1; i <= 4; ++i) CHECK(l.take(ep("198.51.100." + std::to_string(i) + ":1"), 50, t0));
    CHECK(l.groups() == 4);
    CHECK_FALSE(l.take(ep("198.51.100.9:1"), 1, t0));  // fail closed: nobody idle
    CHECK(l.groups() == 4);
    // 5 s later every bucket is full again: an idle group gives way.
    CHECK(l.take(ep("198.51.100.9:1"), 1, t0 + 5s));
    CHECK(l.groups() == 4);
    CHECK(l.prune(t0 + 60s) == 4);
    CHECK(l.groups() == 0);
}
