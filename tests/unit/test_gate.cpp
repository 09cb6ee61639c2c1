#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "crypto/random.h"
#include "relay/gate.h"

using namespace pave;
using namespace std::chrono_literals;
using V = Gate::Verdict;

namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point T0 = Clock::time_point{} + 1000h;

void put_le32(Bytes& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

Bytes shaped(uint8_t type, size_t len) {
    Bytes b(len, 0x5c);
    b[0] = type;
    b[1] = b[2] = b[3] = 0;
    return b;
}

Bytes init(uint32_t sender) {
    Bytes b = shaped(1, 148);
    put_le32(b, 4, sender);
    return b;
}

Bytes resp(uint32_t sender, uint32_t receiver) {
    Bytes b = shaped(2, 92);
    put_le32(b, 4, sender);
    put_le32(b, 8, receiver);
    return b;
}

Bytes cookie(uint32_t receiver) {
    Bytes b = shaped(3, 64);
    put_le32(b, 4, receiver);
    return b;
}

Bytes data(uint32_t receiver, size_t len = 32 + 1408) {
    Bytes b = shaped(4, len);
    put_le32(b, 4, receiver);
    return b;
}

Endpoint vpn(const char* text = "198.51.100.10:51820") { return *Endpoint::parse(text); }

// Unlimited destinations, so a test of one thing is not disturbed by another.
DestinationLimiter& open_destinations() {
    static DestinationLimiter d(1e9, 1e9, 1 << 20);
    return d;
}

// Client initiation `sender`, endpoint response to it: the gate unlocks.
void unlock(Gate& g, Clock::time_point t, uint32_t client_index = 0x1000, uint32_t vpn_index = 0x2000) {
    REQUIRE(g.from_client(init(client_index), t) == V::forward);
    REQUIRE(g.from_endpoint(resp(vpn_index, client_index), t) == V::forward);
    REQUIRE(g.unlocked());
}

}  // namespace

TEST_CASE("gate: locked session lets only initiations out and only answers in") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    CHECK_FALSE(g.unlocked());
    CHECK(g.from_client(data(1), T0) == V::drop_locked);
    CHECK(g.from_client(data(1, 32), T0) == V::drop_locked);  // keepalive
    CHECK(g.from_client(resp(1, 2), T0) == V::drop_locked);
    CHECK(g.from_client(cookie(2), T0) == V::drop_locked);
    CHECK(g.from_endpoint(data(1), T0) == V::drop_locked);
    CHECK(g.from_endpoint(init(9), T0) == V::drop_locked);
    CHECK(g.from_endpoint(resp(5, 0xabc), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(cookie(0xabc), T0) == V::drop_unknown_index);
    CHECK(g.count(V::drop_locked) == 6);
    CHECK(g.count(V::drop_unknown_index) == 2);
    CHECK(g.count(V::forward) == 0);
    CHECK(g.packets_to_client() == 0);
    CHECK(g.packets_to_endpoint() == 0);
    CHECK_FALSE(g.unlocked());
}

TEST_CASE("gate: a response with the wrong receiver index unlocks nothing") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    REQUIRE(g.from_client(init(0x11111111), T0) == V::forward);
    CHECK(g.bytes_to_endpoint() == 148);
    CHECK(g.from_endpoint(resp(0x2222, 0x11111112), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(resp(0x2222, 0x22222222), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(resp(0x2222, 0), T0) == V::drop_unknown_index);
    // Its own sender index echoed back is not a receiver index the client sent either.
    CHECK(g.from_endpoint(resp(0x11111111, 0x2222), T0) == V::drop_unknown_index);
    CHECK_FALSE(g.unlocked());
    CHECK(g.from_endpoint(data(0x11111111), T0) == V::drop_locked);
    CHECK(g.from_client(data(0x2222), T0) == V::drop_locked);

    CHECK(g.from_endpoint(resp(0x2222, 0x11111111), T0 + 100ms) == V::forward);
    CHECK(g.unlocked());
    CHECK(g.bytes_to_client() == 92);
    // Unlocked: transport data both ways.
    CHECK(g.from_client(data(0x2222), T0 + 200ms) == V::forward);
    CHECK(g.from_client(data(0x2222, 32), T0 + 200ms) == V::forward);
    CHECK(g.from_endpoint(data(0x11111111), T0 + 300ms) == V::forward);
    CHECK(g.packets_to_endpoint() == 3);
    CHECK(g.packets_to_client() == 2);
    CHECK(g.bytes_to_endpoint() == 148 + 1440 + 32);
    CHECK(g.bytes_to_client() == 92 + 1440);
}

TEST_CASE("gate: each initiation is answered at most once while locked (no amplification)") {
    GateLimits lim;
    lim.init_burst = 100;
    Gate g(lim, open_destinations(), vpn(), T0);
    for (uint32_t i = 1; i <= 3; ++i) REQUIRE(g.from_client(init(i), T0) == V::forward);
    // The endpoint side (or anyone spoofing it) tries to send the client much more.
    size_t forwarded = 0;
    for (int round = 0; round < 4; ++round)
        for (uint32_t i = 0; i <= 4; ++i)
            if (g.from_endpoint(cookie(i), T0) == V::forward) ++forwarded;
    CHECK(forwarded == 3);
    for (int i = 0; i < 1000; ++i) {
        uint32_t idx = uint32_t(random_u64());
        Bytes junk = i % 2 ? resp(idx, idx | 0x80000000u) : cookie(idx | 0x80000000u);
        CHECK(g.from_endpoint(junk, T0) != V::forward);
    }
    // Answered by cookies, the initiations cannot also be answered by responses.
    for (uint32_t i = 1; i <= 3; ++i) CHECK(g.from_endpoint(resp(77, i), T0) == V::drop_unknown_index);
    CHECK_FALSE(g.unlocked());
    CHECK(g.packets_to_client() == 3);
    CHECK(g.packets_to_client() <= g.packets_to_endpoint());
    CHECK(g.bytes_to_client() == 3 * 64);
    CHECK(g.bytes_to_client() < g.bytes_to_endpoint());

    // A new initiation, answered by a response: one answer, which unlocks.
    REQUIRE(g.from_client(init(50), T0) == V::forward);
    CHECK(g.from_endpoint(resp(60, 50), T0) == V::forward);
    CHECK(g.from_endpoint(resp(61, 50), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(cookie(50), T0) == V::drop_unknown_index);
    CHECK(g.packets_to_client() == 4);
    CHECK(g.packets_to_endpoint() == 4);
    CHECK(g.bytes_to_client() < g.bytes_to_endpoint());
}

TEST_CASE("gate: only the last 16 initiations can be answered") {
    GateLimits lim;
    lim.init_burst = 100;
    Gate g(lim, open_destinations(), vpn(), T0);
    for (uint32_t i = 1; i <= Gate::kPendingHandshakes + 1; ++i) REQUIRE(g.from_client(init(i), T0) == V::forward);
    CHECK(g.from_endpoint(cookie(1), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(cookie(2), T0) == V::forward);
    CHECK(g.from_endpoint(resp(9, Gate::kPendingHandshakes + 1), T0) == V::forward);
}

TEST_CASE("gate: initiations per session: burst 5, then 1 per second") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    for (uint32_t i = 0; i < 5; ++i) CHECK(g.from_client(init(i), T0) == V::forward);
    CHECK(g.from_client(init(5), T0) == V::drop_rate_session);
    CHECK(g.from_client(init(6), T0 + 500ms) == V::drop_rate_session);
    CHECK(g.from_client(init(7), T0 + 1000ms) == V::forward);
    CHECK(g.from_client(init(8), T0 + 1500ms) == V::drop_rate_session);
    CHECK(g.from_client(init(9), T0 + 2000ms) == V::forward);
    CHECK(g.count(V::drop_rate_session) == 3);
    CHECK(g.count(V::forward) == 7);
    // A rate-limited initiation was not recorded: its answer is refused.
    CHECK(g.from_endpoint(cookie(5), T0 + 2s) == V::drop_unknown_index);
    CHECK(g.from_endpoint(cookie(7), T0 + 2s) == V::forward);
    // Long idle refills to the burst, not beyond.
    for (uint32_t i = 0; i < 5; ++i) CHECK(g.from_client(init(100 + i), T0 + 50s) == V::forward);
    CHECK(g.from_client(init(105), T0 + 50s) == V::drop_rate_session);
}

TEST_CASE("gate: after unlock initiations (rekeys) are still limited per session, not per destination") {
    DestinationLimiter dest(1, 0.001, 16);
    Gate g(GateLimits{}, dest, vpn(), T0);
    unlock(g, T0);
    // The destination's budget is spent; the unlocked session rekeys anyway.
    Gate stranger(GateLimits{}, dest, vpn(), T0);
    CHECK(stranger.from_client(init(1), T0) == V::drop_rate_destination);
    for (uint32_t i = 0; i < 4; ++i) CHECK(g.from_client(init(10 + i), T0) == V::forward);
    CHECK(g.from_client(init(20), T0) == V::drop_rate_session);
    CHECK(g.from_client(init(21), T0 + 1s) == V::forward);
    CHECK(g.from_endpoint(resp(0x3000, 21), T0 + 1s) == V::forward);
    CHECK(g.from_endpoint(resp(0x3001, 21), T0 + 1s) == V::drop_unknown_index);
}

TEST_CASE("gate: initiations per destination are shared by all sessions to it") {
    DestinationLimiter dest(10, 2, 16);
    GateLimits lim;
    Gate a(lim, dest, vpn("198.51.100.10:51820"), T0);
    Gate b(lim, dest, vpn("198.51.100.10:443"), T0);  // same address, other port
    Gate c(lim, dest, vpn("[::ffff:198.51.100.10]:51820"), T0);
    Gate other(lim, dest, vpn("203.0.113.5:51820"), T0);
    for (uint32_t i = 0; i < 5; ++i) CHECK(a.from_client(init(i), T0) == V::forward);
    for (uint32_t i = 0; i < 5; ++i) CHECK(b.from_client(init(i), T0) == V::forward);
    CHECK(c.from_client(init(0), T0) == V::drop_rate_destination);
    CHECK(other.from_client(init(0), T0) == V::forward);
    CHECK(dest.size() == 2);
    // 2 per second: half a second later one more, for whichever session asks first.
    CHECK(c.from_client(init(1), T0 + 500ms) == V::forward);
    Gate d(lim, dest, vpn("198.51.100.10:1"), T0);
    CHECK(d.from_client(init(0), T0 + 500ms) == V::drop_rate_destination);
    CHECK(a.from_client(init(6), T0 + 500ms) == V::drop_rate_session);  // a's own budget is spent too
    CHECK(a.from_client(init(7), T0 + 1000ms) == V::forward);
    CHECK(d.from_client(init(1), T0 + 1000ms) == V::drop_rate_destination);
    CHECK(d.from_client(init(2), T0 + 1500ms) == V::forward);
    CHECK(c.count(V::drop_rate_destination) == 1);
    CHECK(d.count(V::drop_rate_destination) == 2);
}

TEST_CASE("gate: destination table is bounded and fails closed") {
    DestinationLimiter dest(1, 1, 2);
    CHECK(dest.take(vpn("198.51.100.1:1"), T0));
    CHECK(dest.take(vpn("198.51.100.2:1"), T0));
    CHECK_FALSE(dest.take(vpn("198.51.100.3:1"), T0));  // full, nobody idle
    CHECK(dest.size() == 2);
    CHECK(dest.take(vpn("198.51.100.3:1"), T0 + 2s));  // an idle entry makes room
    CHECK(dest.size() == 2);
    CHECK(dest.prune(T0 + 10s) == 2);
    CHECK(dest.size() == 0);
    CHECK_FALSE(dest.take(Endpoint{}, T0));
}

TEST_CASE("gate: rekey started by the endpoint after unlock") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    unlock(g, T0, 0x1000, 0x2000);
    // Answers without a matching endpoint initiation are refused.
    CHECK(g.from_client(resp(0x1001, 0x7777), T0) == V::drop_unknown_index);
    CHECK(g.from_client(cookie(0x7777), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(init(0x2001), T0 + 1s) == V::forward);
    CHECK(g.from_client(resp(0x1001, 0x2001), T0 + 1s) == V::forward);
    CHECK(g.from_client(resp(0x1002, 0x2001), T0 + 1s) == V::drop_unknown_index);
    // A cookie reply may answer the client's response, once.
    CHECK(g.from_endpoint(cookie(0x1001), T0 + 1s) == V::forward);
    CHECK(g.from_endpoint(cookie(0x1001), T0 + 1s) == V::drop_unknown_index);
    // ... and the client's cookie reply may answer an endpoint initiation.
    CHECK(g.from_endpoint(init(0x2002), T0 + 2s) == V::forward);
    CHECK(g.from_client(cookie(0x2002), T0 + 2s) == V::forward);
    CHECK(g.from_client(resp(0x1003, 0x2002), T0 + 2s) == V::drop_unknown_index);
    // Endpoint initiations have their own per-session budget.
    size_t ok = 0;
    for (uint32_t i = 0; i < 20; ++i)
        if (g.from_endpoint(init(0x3000 + i), T0 + 2s) == V::forward) ++ok;
    // Burst 5: one taken at 1 s, refilled by 2 s (capped at 5), one taken at 2 s, 4 left.
    CHECK(ok == 4);
    CHECK(g.count(V::drop_rate_session) == 16);
}

TEST_CASE("gate: non-WireGuard payloads are dropped both ways and counted") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    unlock(g, T0);
    // DNS query for example.com.
    Bytes dns = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 7, 'e', 'x', 'a', 'm',
                 'p',  'l',  'e',  3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01};
    // STUN binding request.
    Bytes stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    Bytes wrong_len = shaped(4, 31);  // below the 32-byte minimum of transport data
    Bytes bad_reserved = data(1);
    bad_reserved[2] = 1;
    size_t dropped = 0;
    for (const Bytes* p : {&dns, &stun, &wrong_len, &bad_reserved}) {
        CHECK(g.from_client(*p, T0) == V::drop_not_wireguard);
        CHECK(g.from_endpoint(*p, T0) == V::drop_not_wireguard);
        dropped += 2;
    }
    CHECK(g.from_client(ByteView{}, T0) == V::drop_not_wireguard);
    ++dropped;
    for (int i = 0; i < 500; ++i) {
        Bytes r(size_t(random_below(1500)));
        random_bytes(r);
        r.size() > 1 ? void(r[1] = 0xff) : void();  // never shaped by chance
        CHECK(g.from_client(r, T0) == V::drop_not_wireguard);
        CHECK(g.from_endpoint(r, T0) == V::drop_not_wireguard);
        dropped += 2;
    }
    CHECK(g.count(V::drop_not_wireguard) == dropped);
    CHECK(g.packets_to_endpoint() == 1);
    CHECK(g.packets_to_client() == 1);
}

TEST_CASE("gate: packet and byte quota") {
    GateLimits lim;
    lim.max_packets = 4;
    Gate g(lim, open_destinations(), vpn(), T0);
    unlock(g, T0);
    CHECK(g.from_client(data(0x2000), T0) == V::forward);
    CHECK(g.from_endpoint(data(0x1000), T0) == V::forward);
    CHECK_FALSE(g.expired(T0));
    CHECK(g.from_client(data(0x2000), T0) == V::drop_quota);
    CHECK(g.expired(T0));
    CHECK(g.from_endpoint(data(0x1000, 32), T0) == V::drop_quota);
    CHECK(g.count(V::drop_quota) == 2);
    CHECK(g.packets_to_endpoint() + g.packets_to_client() == 4);

    GateLimits blim;
    blim.max_bytes = 148 + 92 + 1440 + 100;
    Gate h(blim, open_destinations(), vpn(), T0);
    unlock(h, T0);
    CHECK(h.from_client(data(0x2000), T0) == V::forward);
    CHECK(h.from_endpoint(data(0x1000, 128), T0) == V::drop_quota);  // 128 > 100 left
    CHECK(h.from_endpoint(data(0x1000, 32), T0) == V::drop_quota);   // stopped for good
    CHECK(h.bytes_to_client() + h.bytes_to_endpoint() <= blim.max_bytes);
}

TEST_CASE("gate: a closed gate forwards nothing") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    unlock(g, T0);
    g.close();
    CHECK(g.closed());
    CHECK(g.expired(T0));
    CHECK(g.from_client(data(1), T0) == V::drop_closed);
    CHECK(g.from_client(init(7), T0) == V::drop_closed);
    CHECK(g.from_client(Bytes{1, 2, 3}, T0) == V::drop_closed);
    CHECK(g.from_endpoint(data(1), T0) == V::drop_closed);
    CHECK(g.from_endpoint(resp(1, 0x1000), T0) == V::drop_closed);
    CHECK(g.count(V::drop_closed) == 5);
    CHECK(g.packets_to_endpoint() == 1);
    CHECK(g.packets_to_client() == 1);
}

TEST_CASE("gate: timeouts") {
    GateLimits lim;
    lim.handshake_timeout = 30s;
    lim.idle_timeout = 120s;
    {
        Gate g(lim, open_destinations(), vpn(), T0);
        CHECK(g.deadline() == T0 + 30s);
        CHECK(g.from_client(init(1), T0 + 29s) == V::forward);
        CHECK(g.deadline() == T0 + 30s);  // initiations alone do not extend a locked session
        CHECK_FALSE(g.expired(T0 + 29s));
        CHECK(g.expired(T0 + 30s));
        CHECK(g.from_endpoint(resp(2, 1), T0 + 30s) == V::drop_closed);
        CHECK(g.closed());
        CHECK(g.from_client(init(3), T0 + 10s) == V::drop_closed);  // stays closed
    }
    {
        Gate g(lim, open_destinations(), vpn(), T0);
        unlock(g, T0 + 10s);
        CHECK(g.deadline() == T0 + 130s);
        CHECK(g.from_client(data(0x2000), T0 + 100s) == V::forward);
        CHECK(g.deadline() == T0 + 130s);  // the endpoint side is still quiet since 10 s
        CHECK(g.from_endpoint(data(0x1000), T0 + 110s) == V::forward);
        CHECK(g.deadline() == T0 + 220s);
        CHECK_FALSE(g.expired(T0 + 219s));
        CHECK(g.expired(T0 + 220s));
        CHECK(g.from_client(data(2), T0 + 220s) == V::drop_closed);
    }
    {
        GateLimits huge;
        huge.handshake_timeout = GateLimits::duration::max();
        Gate g(huge, open_destinations(), vpn(), T0);
        CHECK(g.deadline() == Clock::time_point::max());
        CHECK(g.from_client(init(1), T0 + 1000h) == V::forward);
    }
}

TEST_CASE("gate: every verdict is reachable and named") {
    DestinationLimiter dest(1, 0.01, 4);
    GateLimits lim;
    lim.max_packets = 3;
    Gate g(lim, dest, vpn(), T0);
    Gate s(GateLimits{}, dest, vpn(), T0);
    CHECK(g.from_client(init(1), T0) == V::forward);
    CHECK(g.from_client(Bytes(148, 1), T0) == V::drop_not_wireguard);
    CHECK(g.from_client(data(1), T0) == V::drop_locked);
    CHECK(g.from_client(init(2), T0) == V::drop_rate_destination);
    CHECK(g.from_endpoint(resp(1, 99), T0) == V::drop_unknown_index);
    for (int i = 0; i < 4; ++i) s.from_client(init(9), T0);
    CHECK(s.count(V::drop_rate_session) == 0);  // the destination limit bites first here
    Gate r(GateLimits{}, open_destinations(), vpn(), T0);
    for (int i = 0; i < 6; ++i) r.from_client(init(9), T0);
    CHECK(r.count(V::drop_rate_session) == 1);
    CHECK(g.from_endpoint(resp(5, 1), T0) == V::forward);
    CHECK(g.from_client(data(5), T0) == V::forward);
    CHECK(g.from_client(data(5), T0) == V::drop_quota);
    g.close();
    CHECK(g.from_client(data(5), T0) == V::drop_closed);
    for (size_t i = 0; i < Gate::kVerdictCount; ++i) {
        const V v = V(i);
        INFO(to_string(v));
        if (v == V::drop_rate_session)
            CHECK(r.count(v) == 1);
        else
            CHECK(g.count(v) >= 1);
        CHECK(std::string(to_string(v)) != "?");
    }
}

TEST_CASE("session caps: per client address and in total") {
    SessionCaps caps(2, 5);
    const Bytes a = {192, 0, 2, 1}, b = {192, 0, 2, 2}, c = {198, 51, 100, 1};
    CHECK(caps.try_add(a));
    CHECK(caps.try_add(a));
    CHECK_FALSE(caps.try_add(a));
    CHECK(caps.count(a) == 2);
    // IPv4-mapped IPv6 is the same client.
    Bytes a_mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    CHECK_FALSE(caps.try_add(a_mapped));
    CHECK(caps.try_add(b));
    CHECK(caps.try_add(b));
    // IPv6: counted per /64.
    Bytes v6a = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    Bytes v6b = v6a;
    v6b[15] = 2;
    v6b[9] = 0x77;
    CHECK(caps.try_add(v6a));
    CHECK(caps.count() == 5);
    CHECK_FALSE(caps.try_add(c));  // total reached
    caps.remove(b);
    CHECK(caps.count() == 4);
    CHECK(caps.try_add(v6b));
    CHECK(caps.count(v6a) == 2);
    caps.remove(a_mapped);
    CHECK(caps.count(a) == 1);
    // A remove without an add, or of a malformed address, changes nothing.
    caps.remove(c);
    caps.remove(Bytes{1, 2, 3});
    CHECK(caps.count() == 4);
    CHECK_FALSE(caps.try_add(Bytes{1, 2, 3}));
    CHECK_FALSE(caps.try_add(Bytes{}));
    caps.remove(a);
    caps.remove(a);
    caps.remove(b);
    caps.remove(v6a);
    caps.remove(v6b);
    CHECK(caps.count() == 0);
    CHECK(caps.count(a) == 0);

    SessionCaps none(0, 10);
    CHECK_FALSE(none.try_add(a));
    CHECK(none.count() == 0);
}

TEST_CASE("gate: transport data only on keypairs a handshake through the gate set up") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    unlock(g, T0, 0x1000, 0x2000);
    // the client's data is addressed to the VPN's index, the VPN's data to the client's
    CHECK(g.from_client(data(0x2000), T0) == V::forward);
    CHECK(g.from_endpoint(data(0x1000), T0) == V::forward);
    // anything else, though WireGuard-shaped, is not this session's traffic
    CHECK(g.from_client(data(0x1000), T0) == V::drop_unknown_index);
    CHECK(g.from_client(data(0xdead), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(data(0x2000), T0) == V::drop_unknown_index);
    CHECK(g.from_endpoint(data(0xbeef), T0) == V::drop_unknown_index);
    // a rekey started by the VPN and answered by the client adds the new keypair
    CHECK(g.from_endpoint(init(0x3000), T0) == V::forward);
    CHECK(g.from_client(resp(0x4000, 0x3000), T0) == V::forward);
    CHECK(g.from_client(data(0x3000), T0) == V::forward);
    CHECK(g.from_endpoint(data(0x4000), T0) == V::forward);
    CHECK(g.from_client(data(0x2000), T0) == V::forward);  // the previous keypair still works
}
