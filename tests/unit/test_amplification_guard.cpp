#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "relay/wire/address_check.h"
#include "relay/amplification_guard.h"
#include "relay/wire/demux.h"

using namespace pave;
using namespace std::chrono_literals;
using tp = std::chrono::steady_clock::time_point;
using Traffic = AmplificationGuard::Traffic;
using Action = AmplificationGuard::Action;
using C = AmplificationGuard::Counter;

namespace {
const tp t0 = tp{} + 100000s;
Endpoint ep(const char* s) { return *Endpoint::parse(s); }
Bytes bytes(size_t n, uint8_t fill = 0x80) { return Bytes(n, fill); }
ByteArray<32> secret(uint8_t b) {
    ByteArray<32> s{};
    s.fill(b);
    return s;
}

// Two guards that talk to each other through a loss-free "network": what one sends to the
// other's address is delivered to the other's on_check / on_received.
struct Pair {
    AmplificationGuard a{AmplificationGuard::Limits{}, secret(1)};
    AmplificationGuard b{AmplificationGuard::Limits{}, secret(2)};
    Endpoint addr_a = ep("198.51.100.1:4000");
    Endpoint addr_b = ep("203.0.113.2:5000");
    std::vector<Bytes> delivered_to_a, delivered_to_b;

    // `to_b`: datagram from a to b.
    void deliver(bool to_b, ByteView d, tp now) {
        AmplificationGuard& g = to_b ? b : a;
        const Endpoint& from = to_b ? addr_a : addr_b;
        (to_b ? delivered_to_b : delivered_to_a).emplace_back(d.begin(), d.end());
        auto c = g.on_received(from, d.size(), now, false);
        CHECK_FALSE(c);
        if (classify(d) != PacketKind::address_check) return;
        auto m = parse_address_check(d);
        REQUIRE(m);
        auto plan = g.on_check(from, *m, now);
        if (plan.flush)
            for (auto& x : plan.flush->datagrams) (to_b ? delivered_to_a : delivered_to_b).push_back(x);
        if (plan.answer) deliver(!to_b, *plan.answer, now);
    }
};
}  // namespace

TEST_CASE("address check: encode/parse round trip and strict parsing") {
    AddressCheck m;
    m.type = AddressCheckType::response;
    m.cookie.fill(7);
    m.echo.fill(9);
    auto w = encode_address_check(m);
    CHECK(w.size() == kAddressCheckSize);
    CHECK(classify(w) == PacketKind::address_check);
    auto p = parse_address_check(w);
    REQUIRE(p);
    CHECK(*p == m);
    SUBCASE("wrong size") { CHECK_FALSE(parse_address_check(ByteView(w.data(), w.size() - 1))); }
    SUBCASE("unknown type") {
        auto x = w;
        x[1] = 4;
        CHECK_FALSE(parse_address_check(x));
        x[1] = 0;
        CHECK_FALSE(parse_address_check(x));
    }
    SUBCASE("non-zero padding") {
        auto x = w;
        x[kAddressCheckSize - 1] = 1;
        CHECK_FALSE(parse_address_check(x));
    }
    SUBCASE("a challenge echoes nothing, a confirm carries no cookie") {
        auto x = w;
        x[1] = uint8_t(AddressCheckType::challenge);
        CHECK_FALSE(parse_address_check(x));
        x[1] = uint8_t(AddressCheckType::confirm);
        CHECK_FALSE(parse_address_check(x));
    }
}

TEST_CASE("cookie jar: bound to address, port and time slot") {
    CookieJar jar(secret(3));
    auto a = ep("192.0.2.1:1000");
    auto c = jar.make(a, 1000);
    CHECK(jar.verify(a, c, 1000));
    CHECK(jar.verify(a, c, 1000 + CookieJar::kSlotSeconds));          // previous slot
    CHECK_FALSE(jar.verify(a, c, 1000 + 2 * CookieJar::kSlotSeconds));  // too old
    CHECK_FALSE(jar.verify(ep("192.0.2.1:1001"), c, 1000));
    CHECK_FALSE(jar.verify(ep("192.0.2.2:1000"), c, 1000));
    CHECK_FALSE(CookieJar(secret(4)).verify(a, c, 1000));
    // IPv4 and its IPv4-mapped IPv6 spelling are one address.
    CHECK(jar.verify(ep("[::ffff:192.0.2.1]:1000"), c, 1000));
}

TEST_CASE("guard: replies to an unvalidated address stay within 3x what it sent") {
    AmplificationGuard g(AmplificationGuard::Limits{}, secret(1));
    auto victim = ep("203.0.113.9:53");
    // 84 bytes "from" the victim (a spoofed DHT get); the node wants to answer 120 KB.
    auto challenge = g.on_received(victim, 84, t0);
    REQUIRE(challenge);  // 48 bytes: fits 3 x 84
    uint64_t sent = challenge->size();
    for (int i = 0; i < 100; ++i) {
        auto part = bytes(1200);
        auto plan = g.plan_send(victim, part, Traffic::reply, t0);
        if (plan.action == Action::send) sent += part.size();
        if (plan.challenge) sent += plan.challenge->size();
    }
    CHECK(sent <= 3 * 84);
    CHECK(g.count(C::held) + g.count(C::dropped) == 100);
    CHECK(g.held_bytes() <= AmplificationGuard::Limits{}.held_bytes_per_address);
    // Nobody answers the challenge: the held replies are dropped, never sent.
    g.expire(t0 + 10s);
    CHECK(g.held_bytes() == 0);
    CHECK(g.count(C::held_sent) == 0);
    CHECK(g.count(C::held_dropped) == g.count(C::held));
}

TEST_CASE("guard: small replies go out at once; the budget accumulates per address") {
    AmplificationGuard g(AmplificationGuard::Limits{}, secret(1));
    auto peer = ep("198.51.100.7:4222");
    g.on_received(peer, 60, t0, false);
    CHECK(g.plan_send(peer, bytes(150), Traffic::reply, t0).action == Action::send);
    CHECK(g.plan_send(peer, bytes(60), Traffic::reply, t0).action == Action::held);  // 210 > 180
    g.on_received(peer, 60, t0, false);
    CHECK(g.plan_send(peer, bytes(60), Traffic::reply, t0).action == Action::send);  // 210 <= 360
    // Another port of the same host has its own (empty) budget.
    CHECK(g.plan_send(ep("198.51.100.7:4223"), bytes(10), Traffic::reply, t0).action == Action::held);
}

TEST_CASE("guard: a cookie round trip validates both sides and releases held replies") {
    Pair p;
    // b receives a request from a (a PAVE node), b's reply is too big: held, b challenges a.
    auto c = p.b.on_received(p.addr_a, 90, t0);
    REQUIRE(c);
    auto big = bytes(4000);
    auto plan = p.b.plan_send(p.addr_a, big, Traffic::reply, t0);
    CHECK(plan.action == Action::held);
    p.deliver(false, *c, t0);  // challenge b -> a; a answers; b validates a, flushes, confirms
    CHECK(p.b.validated(p.addr_a, t0));
    CHECK(p.a.validated(p.addr_b, t0));
    CHECK(p.b.count(C::validated_cookie) == 1);
    CHECK(p.a.count(C::validated_cookie) == 1);
    // The held reply reached a once, whole.
    size_t got = 0;
    for (auto& d : p.delivered_to_a) got += d.size() == big.size();
    CHECK(got == 1);
    // Validated: anything goes, until the validation lapses.
    CHECK(p.b.plan_send(p.addr_a, bytes(60000), Traffic::reply, t0 + 1s).action == Action::send);
    CHECK_FALSE(p.b.validated(p.addr_a, t0 + AmplificationGuard::kValidFor + 1s));
}

TEST_CASE("guard: forged, replayed or misdirected checks validate nothing") {
    AmplificationGuard g(AmplificationGuard::Limits{}, secret(1));
    auto victim = ep("203.0.113.9:53");
    auto attacker = ep("192.0.2.66:999");
    auto c = g.on_received(victim, 100, t0);
    REQUIRE(c);
    auto sent = parse_address_check(*c);
    REQUIRE(sent);
    AddressCheck r;
    r.type = AddressCheckType::response;
    SUBCASE("guessed cookie") {
        r.echo.fill(0x42);
        g.on_received(victim, kAddressCheckSize, t0, false);
        g.on_check(victim, r, t0);
        CHECK_FALSE(g.validated(victim, t0));
        CHECK(g.count(C::checks_invalid) == 1);
    }
    SUBCASE("the victim's cookie echoed from another address") {
        r.echo = sent->cookie;
        g.on_received(attacker, kAddressCheckSize, t0, false);
        g.on_check(attacker, r, t0);
        CHECK_FALSE(g.validated(attacker, t0));
        CHECK_FALSE(g.validated(victim, t0));
    }
    SUBCASE("an old cookie") {
        r.echo = sent->cookie;
        g.on_received(victim, kAddressCheckSize, t0 + 61s, false);
        g.on_check(victim, r, t0 + 61s);
        CHECK_FALSE(g.validated(victim, t0 + 61s));
    }
}

TEST_CASE("guard: a challenge is answered once, at the same size, never beyond the budget") {
    AmplificationGuard g(AmplificationGuard::Limits{}, secret(1));
    auto victim = ep("203.0.113.9:53");
    AddressCheck ch;
    ch.type = AddressCheckType::challenge;
    ch.cookie.fill(5);
    uint64_t out = 0, in = 0;
    for (int i = 0; i < 50; ++i) {
        g.on_received(victim, kAddressCheckSize, t0, false);
        in += kAddressCheckSize;
        auto plan = g.on_check(victim, ch, t0);
        if (plan.answer) out += plan.answer->size();
    }
    CHECK(out == in);  // 1x: one answer per challenge
    CHECK_FALSE(g.validated(victim, t0));
}

TEST_CASE("guard: an OpenDHT reply echoing our transaction id validates its sender once") {
    AmplificationGuard g(AmplificationGuard::Limits{}, secret(1));
    auto peer = ep("198.51.100.3:4222");
    CHECK(g.plan_send(peer, bytes(100), Traffic::request, t0).action == Action::send);  // first contact
    g.on_request_tid(peer, 0x1234, t0);
    g.on_received(peer, 200, t0 + 5ms, false);
    CHECK_FALSE(g.on_reply_tid(ep("198.51.100.3:4223"), 0x1234, t0 + 5ms));  // another port
    CHECK_FALSE(g.validated(peer, t0));
    CHECK_FALSE(g.on_reply_tid(peer, 0x1235, t0 + 5ms));  // an id never sent
    CHECK_FALSE(g.validated(peer, t0 + 5ms));
    g.on_reply_tid(peer, 0x1234, t0 + 5ms);
    CHECK(g.validated(peer, t0 + 5ms));
    CHECK(g.count(C::validated_tid) == 1);
    SUBCASE("an id too old proves nothing") {
        AmplificationGuard h(AmplificationGuard::Limits{}, secret(1));
        h.plan_send(peer, bytes(100), Traffic::request, t0);
        h.on_request_tid(peer, 7, t0);
        h.on_reply_tid(peer, 7, t0 + AmplificationGuard::kTidWindow + 1s);
        CHECK_FALSE(h.validated(peer, t0 + AmplificationGuard::kTidWindow + 1s));
    }
}

TEST_CASE("guard: first-contact requests get a small credit, per address and in total") {
    AmplificationGuard::Limits l;
    l.first_contact_bytes = 1000;
    l.first_contact_rate = 1000;
    l.first_contact_burst = 3000;
    AmplificationGuard g(l, secret(1));
    auto victim = ep("203.0.113.9:4222");
    uint64_t sent = 0;
    for (int i = 0; i < 20; ++i)
        if (g.plan_send(victim, bytes(100), Traffic::request, t0).action == Action::send) sent += 100;
    CHECK(sent == 1000);
    // Many addresses: the total is bounded by the bucket (3000 now, then 1000/s).
    uint64_t total = 0;
    for (int port = 1; port <= 100; ++port) {
        auto e = ep(("203.0.113.10:" + std::to_string(port)).c_str());
        if (g.plan_send(e, bytes(100), Traffic::request, t0).action == Action::send) total += 100;
    }
    CHECK(total <= 3000);
    // Once an address has sent something, the 3x rule applies to requests too.
    auto peer = ep("198.51.100.20:1");
    g.on_received(peer, 10, t0 + 10s, false);
    CHECK(g.plan_send(peer, bytes(100), Traffic::request, t0 + 10s).action == Action::held);
}

TEST_CASE("guard: a flood of spoofed sources cannot evict validated peers; memory is bounded") {
    AmplificationGuard::Limits l;
    l.max_entries = 64;
    AmplificationGuard g(l, secret(1));
    auto peer = ep("198.51.100.3:4222");
    g.plan_send(peer, bytes(100), Traffic::request, t0);
    g.on_request_tid(peer, 1, t0);
    g.on_reply_tid(peer, 1, t0);
    REQUIRE(g.validated(peer, t0));
    for (uint32_t i = 0; i < 10000; ++i) {
        auto e = ep(("10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "." +
                     std::to_string(i & 255) + ":9")
                        .c_str());
        g.on_received(e, 100, t0 + 1s, false);
        g.plan_send(e, bytes(2000), Traffic::reply, t0 + 1s);  // held
    }
    CHECK(g.entries() <= 64);
    CHECK(g.validated(peer, t0 + 1s));
    CHECK(g.held_bytes() <= 64 * 2000);
    CHECK(g.count(C::evicted) >= 10000 - 64);
}

TEST_CASE("guard: sends from one thread while another receives and validates (run under TSan too)") {
    AmplificationGuard g(AmplificationGuard::Limits{}, secret(1));
    std::atomic<uint64_t> sent{0};
    std::thread sender([&] {  // OpenDHT's thread
        for (int i = 0; i < 20000; ++i) {
            auto to = ep(("198.51.100." + std::to_string(i % 50) + ":4222").c_str());
            auto plan = g.plan_send(to, bytes(100), i % 2 ? Traffic::reply : Traffic::request, t0);
            if (plan.action == Action::send) ++sent;
            g.on_request_tid(to, uint32_t(i), t0);
        }
    });
    for (int i = 0; i < 20000; ++i) {  // the loop thread
        auto from = ep(("198.51.100." + std::to_string(i % 50) + ":4222").c_str());
        g.on_received(from, 60, t0, i % 3 == 0);
        g.on_reply_tid(from, uint32_t(i), t0);
        if (i % 1000 == 0) g.expire(t0 + 5s);
    }
    sender.join();
    CHECK(g.entries() <= 50);
    CHECK(sent > 0);
}
