#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "relay/wire/endpoint.h"
#include "relay/path_validator.h"

using namespace pave;
using namespace std::chrono_literals;
using tp = std::chrono::steady_clock::time_point;

namespace {
const tp t0 = tp{} + 1000s;

Endpoint ep(const char* s) {
    auto e = Endpoint::parse(s);
    REQUIRE(e);
    return *e;
}
Endpoint ep_n(uint32_t n) {
    const uint8_t ip[4] = {10, uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
    auto e = Endpoint::from_ip_bytes(ByteView(ip, 4), uint16_t(1000 + n % 50000));
    REQUIRE(e);
    return *e;
}
}  // namespace

TEST_CASE("path validator: unknown addresses get nothing") {
    PathValidator pv;
    const Endpoint a = ep("198.51.100.1:4000");
    CHECK_FALSE(pv.may_send(a, 1));
    CHECK(pv.sends_refused_budget() == 1);
    CHECK_FALSE(pv.validated(a));
    CHECK_FALSE(pv.best());
}

TEST_CASE("path validator: budget is exactly 3x what was received") {
    PathValidator pv;
    const Endpoint a = ep("198.51.100.1:4000");
    pv.on_received(a, 100);
    CHECK(pv.may_send(a, 300));
    CHECK_FALSE(pv.may_send(a, 301));
    pv.on_sent(a, 200);
    CHECK(pv.may_send(a, 100));
    CHECK_FALSE(pv.may_send(a, 101));
    pv.on_sent(a, 100);
    CHECK_FALSE(pv.may_send(a, 1));
    CHECK(pv.may_send(a, 0));
    pv.on_received(a, 1);
    CHECK(pv.may_send(a, 3));
    CHECK_FALSE(pv.may_send(a, 4));
    CHECK(pv.sends_refused_budget() == 4);
    // Overspending (on_sent without asking) never wraps into a large budget.
    pv.on_sent(a, 1000);
    CHECK_FALSE(pv.may_send(a, 0));
}

TEST_CASE("path validator: the credit is for candidates only, shared by all of them") {
    PathValidator pv(16, 1024);
    const Endpoint cand = ep("203.0.113.5:51820");
    const Endpoint cand2 = ep("203.0.113.6:51820");
    const Endpoint other = ep("203.0.113.5:51821");  // same IP, other port
    pv.add_candidate(cand);
    pv.add_candidate(cand2);
    CHECK(pv.allowance(cand, 1024) == PathValidator::Allowance::credit);
    CHECK_FALSE(pv.may_send(cand, 1025));
    CHECK_FALSE(pv.may_send(other, 1));
    pv.on_sent(cand, 1000);
    CHECK(pv.credit_spent() == 1000);
    // The second candidate draws on what the first left: 24 bytes, not another 1024.
    CHECK(pv.may_send(cand2, 24));
    CHECK_FALSE(pv.may_send(cand2, 25));
    CHECK(pv.may_send(cand, 24));
    CHECK_FALSE(pv.may_send(cand, 25));
    pv.on_received(cand, 10);  // earns 30 of its own
    CHECK(pv.allowance(cand, 30) == PathValidator::Allowance::earned);
    CHECK(pv.allowance(cand, 54) == PathValidator::Allowance::credit);
    CHECK(pv.credit_needed(cand, 54) == 24);
    CHECK_FALSE(pv.may_send(cand, 55));
    pv.on_sent(cand, 54);
    CHECK(pv.credit_left() == 0);
    CHECK_FALSE(pv.may_send(cand2, 1));
    // Re-adding a candidate gives no new credit.
    pv.add_candidate(cand2);
    CHECK_FALSE(pv.may_send(cand2, 1));
}

TEST_CASE("path validator: without a credit a candidate gets 3x what it sent") {
    PathValidator pv;
    const Endpoint cand = ep("203.0.113.5:51820");
    pv.add_candidate(cand);
    CHECK_FALSE(pv.may_send(cand, 1));
    pv.on_received(cand, 50);
    CHECK(pv.may_send(cand, 150));
    CHECK_FALSE(pv.may_send(cand, 151));
}

TEST_CASE("path validator: an ack validates only the address the challenge was sent to") {
    PathValidator pv;
    const Endpoint a = ep("198.51.100.1:4000");
    const Endpoint b = ep("198.51.100.2:4000");
    const Endpoint a_other_port = ep("198.51.100.1:4001");
    pv.add_candidate(a);
    const auto ca = pv.challenge(a, t0);
    const auto cb = pv.challenge(b, t0);
    CHECK(ca != cb);
    // Challenge for A acked from B (or from A's IP with another port): rejected.
    CHECK_FALSE(pv.on_ack(b, ca, t0 + 10ms));
    CHECK_FALSE(pv.on_ack(a_other_port, ca, t0 + 10ms));
    CHECK_FALSE(pv.validated(b));
    CHECK_FALSE(pv.validated(a));
    CHECK(pv.acks_rejected() == 2);
    // Unknown challenge from A: rejected.
    ByteArray<16> guess{};
    CHECK_FALSE(pv.on_ack(a, guess, t0 + 10ms));
    // The genuine ack validates A and only A.
    CHECK(pv.on_ack(a, ca, t0 + 20ms));
    CHECK(pv.validated(a));
    CHECK_FALSE(pv.validated(b));
    CHECK_FALSE(pv.validated(a_other_port));
    CHECK(pv.may_send(a, 1'000'000));
    CHECK(pv.best() == a);
    // A challenge is spent once used.
    CHECK_FALSE(pv.on_ack(a, ca, t0 + 30ms));
    CHECK(pv.acks_rejected() == 4);
}

TEST_CASE("path validator: spoofed source never validated by acks from elsewhere") {
    PathValidator pv;
    const Endpoint victim = ep("192.0.2.77:53");
    const Endpoint attacker = ep("192.0.2.66:40000");
    // The attacker makes us challenge the victim's address (e.g. a re-bind from a spoofed
    // source) and then answers from its own address with everything it can think of.
    pv.on_received(victim, 50);
    const auto cv = pv.challenge(victim, t0);
    const auto ca = pv.challenge(attacker, t0);
    CHECK_FALSE(pv.on_ack(attacker, cv, t0 + 1ms));
    CHECK(pv.on_ack(attacker, ca, t0 + 1ms));  // its own address it can validate
    CHECK_FALSE(pv.validated(victim));
    // The victim receives no more than 3x what arrived "from" it.
    CHECK(pv.may_send(victim, 150));
    CHECK_FALSE(pv.may_send(victim, 151));
}

TEST_CASE("path validator: stale challenges are rejected") {
    PathValidator pv;
    const Endpoint a = ep("[2001:db8::5]:9000");
    const auto c = pv.challenge(a, t0);
    CHECK_FALSE(pv.on_ack(a, c, t0 + 10s));
    CHECK_FALSE(pv.validated(a));
    const auto c2 = pv.challenge(a, t0 + 10s);
    CHECK(pv.on_ack(a, c2, t0 + 10s + 9999ms));
    CHECK(pv.validated(a));
}

TEST_CASE("path validator: several outstanding challenges per path, oldest forgotten") {
    PathValidator pv;
    const Endpoint a = ep("198.51.100.9:1");
    ByteArray<16> cs[PathValidator::kChallengesPerPath + 1];
    for (auto& c : cs) c = pv.challenge(a, t0);
    CHECK_FALSE(pv.on_ack(a, cs[0], t0 + 1ms));  // pushed out by newer ones
    CHECK(pv.on_ack(a, cs[1], t0 + 1ms));
    CHECK(pv.on_ack(a, cs[PathValidator::kChallengesPerPath], t0 + 2ms));
}

TEST_CASE("path validator: best() is the most recently validated; forget_unvalidated") {
    PathValidator pv(16, 100);
    const Endpoint a = ep("198.51.100.1:4000");
    const Endpoint b = ep("198.51.100.2:4000");
    const Endpoint c = ep("198.51.100.3:4000");
    pv.add_candidate(c);
    CHECK(pv.on_ack(a, pv.challenge(a, t0), t0));
    CHECK(pv.best() == a);
    CHECK(pv.on_ack(b, pv.challenge(b, t0), t0 + 1s));  // e.g. a re-bind
    CHECK(pv.best() == b);
    CHECK(pv.tracked() == 3);
    pv.forget_unvalidated();
    CHECK(pv.tracked() == 2);
    CHECK_FALSE(pv.may_send(c, 1));  // the candidate credit is gone
    CHECK(pv.validated(a));
    CHECK(pv.validated(b));
}

TEST_CASE("path validator: bounded memory with 1000 addresses") {
    PathValidator pv(16);
    const Endpoint good = ep("203.0.113.1:51820");
    CHECK(pv.on_ack(good, pv.challenge(good, t0), t0));
    for (uint32_t i = 0; i < 1000; ++i) {
        const Endpoint e = ep_n(i);
        pv.on_received(e, 10);
        (void)pv.challenge(e, t0);
        pv.on_sent(e, 5);
        REQUIRE(pv.tracked() <= 16);
    }
    CHECK(pv.tracked() == 16);
    // The validated path survives; the oldest unvalidated ones were evicted and start over.
    CHECK(pv.validated(good));
    CHECK(pv.best() == good);
    CHECK_FALSE(pv.may_send(ep_n(0), 1));
    CHECK(pv.may_send(ep_n(999), 25));
    CHECK_FALSE(pv.may_send(ep_n(999), 26));
    // An evicted address's challenge no longer validates it.
    PathValidator small(2);
    const Endpoint x = ep_n(1), y = ep_n(2), z = ep_n(3);
    const auto cx = small.challenge(x, t0);
    (void)small.challenge(y, t0);
    (void)small.challenge(z, t0);
    CHECK(small.tracked() == 2);
    CHECK_FALSE(small.on_ack(x, cx, t0));
}

TEST_CASE("path validator: all validated and full evicts the least recently validated") {
    PathValidator pv(2);
    const Endpoint a = ep_n(1), b = ep_n(2), c = ep_n(3);
    CHECK(pv.on_ack(a, pv.challenge(a, t0), t0));
    CHECK(pv.on_ack(b, pv.challenge(b, t0), t0));
    CHECK(pv.on_ack(c, pv.challenge(c, t0), t0));
    CHECK(pv.tracked() == 2);
    CHECK_FALSE(pv.validated(a));
    CHECK(pv.validated(b));
    CHECK(pv.validated(c));
    CHECK(pv.best() == c);
}
