#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "crypto/random.h"
#include "relay/forward_share.h"
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
    static DestinationLimiter d(1e9, 1e9, 1 << 20, 1e15, 1e15);
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

TEST_CASE("gate: transport data shares the relay's capacity; the excess is dropped, never the session") {
    GateLimits lim;
    lim.share = std::make_shared<ForwardShare>(1e6);  // 1 MB/s for the whole relay
    lim.idle_timeout = 10min;
    Gate a(lim, open_destinations(), vpn(), T0);
    Gate b(lim, open_destinations(), vpn(), T0);
    unlock(a, T0);
    unlock(b, T0);
    // The endpoint keeps both sessions live; each client sends 4 MB/s for 20 s, 1 ms steps.
    auto t = T0;
    uint64_t sent = 0;
    for (int ms = 0; ms < 20000; ++ms) {
        t = T0 + std::chrono::milliseconds(ms);
        if (ms % 1000 == 0) {
            REQUIRE(a.from_endpoint(data(0x1000, 32), t) == V::forward);
            REQUIRE(b.from_endpoint(data(0x1000, 32), t) == V::forward);
        }
        for (int k = 0; k < 3; ++k) {
            a.from_client(data(0x2000), t);
            b.from_client(data(0x2000), t);
            sent += 1440;
        }
    }
    // Two active sessions: 0.5 MB/s each, plus one burst (64 KiB) and their first second.
    for (Gate* g : {&a, &b}) {
        CHECK(g->bytes_to_endpoint() <= 148 + 20 * 500000 + 2 * 65536 + 1000000);
        CHECK(g->bytes_to_endpoint() >= 20 * 500000 * 9 / 10);
        CHECK(g->count(V::drop_share) > 0);
        CHECK_FALSE(g->closed());
        CHECK_FALSE(g->expired(t));
    }
    // b goes quiet: a alone gets the whole megabyte per second.
    const uint64_t before = a.bytes_to_endpoint();
    for (int ms = 20000; ms < 30000; ++ms) {
        t = T0 + std::chrono::milliseconds(ms);
        if (ms % 1000 == 0) REQUIRE(a.from_endpoint(data(0x1000, 32), t) == V::forward);
        for (int k = 0; k < 3; ++k) a.from_client(data(0x2000), t);
    }
    const uint64_t alone = a.bytes_to_endpoint() - before;
    CHECK(alone >= 8 * 1000000);
    CHECK(alone <= 10 * 1000000 + 2 * 250000);
    MESSAGE("share: 2 busy sessions got " << before << " and " << b.bytes_to_endpoint()
                                          << " bytes in 20 s of 1 MB/s; alone, " << alone << " bytes in 10 s");
    // Handshakes are not held to the share: a rekey crosses an exhausted bucket.
    CHECK(a.from_client(data(0x2000), t) == V::drop_share);
    CHECK(a.from_client(init(0x1111), t + 1s) == V::forward);
}

TEST_CASE("forward share: capacity over the sessions active this second or the last") {
    ForwardShare share(1000);
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    CHECK(share.share(s1, T0) == doctest::Approx(1000));
    CHECK(share.share(s1, T0 + 100ms) == doctest::Approx(1000));  // counted once per second
    CHECK(share.share(s2, T0 + 200ms) == doctest::Approx(500));
    CHECK(share.active(T0 + 200ms) == 2);
    CHECK(share.share(s3, T0 + 1500ms) == doctest::Approx(1000.0 / 2));  // last second had 2
    CHECK(share.share(s1, T0 + 1600ms) == doctest::Approx(1000.0 / 2));
    CHECK(share.share(s2, T0 + 1700ms) == doctest::Approx(1000.0 / 3));
    // Two seconds of silence forget everyone.
    CHECK(share.active(T0 + 3500ms) == 1);
    CHECK(share.share(s1, T0 + 3500ms) == doctest::Approx(1000));
    CHECK(share.share(s1, T0 + 3s) == doctest::Approx(1000));  // a clock stepping back changes nothing
    ForwardShare bad(-1);
    CHECK(bad.capacity() == ForwardShare::kDefaultBytesPerS);
}

TEST_CASE("gate: answers count only within the answer window") {
    GateLimits lim;
    lim.answer_window = 2s;
    Gate g(lim, open_destinations(), vpn(), T0);
    REQUIRE(g.from_client(init(1), T0) == V::forward);
    CHECK(g.from_endpoint(resp(9, 1), T0 + 2001ms) == V::drop_late_answer);
    CHECK(g.from_endpoint(cookie(1), T0 + 5s) == V::drop_late_answer);
    CHECK_FALSE(g.unlocked());
    REQUIRE(g.from_client(init(2), T0 + 5s) == V::forward);
    CHECK(g.from_endpoint(resp(9, 1), T0 + 5s) == V::drop_late_answer);  // still too old
    CHECK(g.from_endpoint(resp(9, 2), T0 + 7s) == V::forward);          // exactly 2 s
    CHECK(g.unlocked());
    // Endpoint-started rekeys: the client's answer must be prompt too.
    REQUIRE(g.from_endpoint(init(0x50), T0 + 10s) == V::forward);
    CHECK(g.from_client(resp(0x51, 0x50), T0 + 13s) == V::drop_late_answer);
    REQUIRE(g.from_endpoint(init(0x52), T0 + 14s) == V::forward);
    CHECK(g.from_client(resp(0x53, 0x52), T0 + 14500ms) == V::forward);
    CHECK(g.count(V::drop_late_answer) == 4);
}

TEST_CASE("gate: a locked session towards an endpoint that is no WireGuard server closes") {
    Bytes dns_answer(40, 0x81);
    {
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        REQUIRE(g.from_client(init(1), T0) == V::forward);
        CHECK_FALSE(g.closed());
        CHECK(g.from_endpoint(dns_answer, T0) == V::drop_not_wireguard);
        CHECK(g.closed());
        CHECK(g.endpoint_junk() == Gate::kMaxEndpointJunk);
        // A forged response now finds the session gone.
        CHECK(g.from_endpoint(resp(9, 1), T0) == V::drop_closed);
    }
    {
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        REQUIRE(g.from_client(init(1), T0) == V::forward);
        CHECK_FALSE(g.closed());
        g.endpoint_refused(T0);  // ICMP port unreachable
        CHECK(g.closed());
        CHECK(g.from_client(init(2), T0 + 1s) == V::drop_closed);
    }
    {
        // Once the endpoint has answered a handshake, junk is dropped and counted only.
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        unlock(g, T0);
        for (int i = 0; i < 10; ++i) CHECK(g.from_endpoint(dns_answer, T0) == V::drop_not_wireguard);
        g.endpoint_refused(T0);
        CHECK_FALSE(g.closed());
        CHECK(g.from_endpoint(data(0x1000), T0) == V::forward);
    }
}

TEST_CASE("gate: client data beyond a small bucket only while the endpoint sends data back") {
    GateLimits lim;
    lim.idle_timeout = 1h;
    Gate g(lim, open_destinations(), vpn(), T0);
    unlock(g, T0);
    // The handshake alone proves nothing: 64 KiB, then 8 KiB/s.
    size_t n = 0;
    while (g.from_client(data(0x2000), T0) == V::forward) ++n;
    CHECK(n == size_t(Gate::kLapseBurst) / 1440);
    CHECK(g.count(V::drop_no_return) == 1);
    CHECK(g.from_client(data(0x2000, 32), T0) == V::forward);  // a keepalive still fits
    CHECK(g.from_client(data(0x2000), T0 + 50ms) == V::drop_no_return);  // 8 KiB/s: 0.4 KiB in 50 ms
    CHECK(g.from_client(data(0x2000), T0 + 200ms) == V::forward);
    // The endpoint answers: free for 15 s after each of its datagrams.
    CHECK(g.from_endpoint(data(0x1000, 32), T0 + 1s) == V::forward);
    for (int i = 0; i < 1000; ++i) CHECK(g.from_client(data(0x2000), T0 + 1s + std::chrono::milliseconds(i)) == V::forward);
    CHECK(g.from_client(data(0x2000), T0 + 16s) == V::forward);
    // 15 s later the lapse bucket is full again (64 KiB), then empty.
    n = 0;
    while (g.from_client(data(0x2000), T0 + 16001ms) == V::forward) ++n;
    CHECK(n == size_t(Gate::kLapseBurst) / 1440);
    // Endpoint handshake messages do not count as data back.
    REQUIRE(g.from_endpoint(init(0x3000), T0 + 17s) == V::forward);
    n = 0;
    while (g.from_client(data(0x2000), T0 + 17s) == V::forward) ++n;
    CHECK(n <= size_t(Gate::kLapseRate) / 1440 + 1);  // one second of refill, no more
    // A real server's passive keepalive (10 s after it received data) reopens the way.
    CHECK(g.from_endpoint(data(0x1000, 32), T0 + 26s) == V::forward);
    CHECK(g.from_client(data(0x2000), T0 + 26s) == V::forward);
    CHECK_FALSE(g.closed());
}

namespace {

// The red-team attack, in memory. The attacker is the client: it names a silent UDP service,
// sends initiations through the gate and forges responses "from the service" to every port
// of the relay; only the one that hits the session's port reaches the gate. Then it sends
// 1,400-byte payloads. Returns what it took and what the service received.
struct SweepResult {
    bool unlocked = false;
    uint64_t sweep_datagrams = 0;
    uint64_t attacker_bytes = 0;   // everything it sent: initiations, forgeries, payloads
    uint64_t delivered_bytes = 0;  // transport data the relay forwarded to the service
    double seconds = 0;
};

SweepResult sweep_attack(uint16_t relay_port, double forged_per_s, bool keep_forging_data, int payload_seconds) {
    GateLimits lim;
    lim.handshake_timeout = 5min;
    lim.idle_timeout = 15min;
    DestinationLimiter dest;  // the relay's defaults: 10 + 2/s per destination
    Gate g(lim, dest, vpn(), T0);
    SweepResult r;
    const uint32_t ours = 0xa77ac4e5;
    auto t = T0;
    uint32_t init_index = ours;
    auto next_init = T0;
    const auto step = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / forged_per_s));
    // Port by port, 1024-65535 then again, with an initiation every second (the session's rate).
    for (uint32_t port = 1024; !g.unlocked() && t < T0 + lim.handshake_timeout; port = port == 65535 ? 1024 : port + 1) {
        if (t >= next_init) {
            ++init_index;
            r.attacker_bytes += 148;
            g.from_client(init(init_index), t);
            next_init = t + 1s;
        }
        r.attacker_bytes += 92;
        ++r.sweep_datagrams;
        if (port == relay_port) g.from_endpoint(resp(port, init_index), t);  // sender index: the port found
        t += step;
    }
    r.unlocked = g.unlocked();
    if (!r.unlocked) return r;
    const uint32_t found = relay_port;  // the attacker reads it from the response it receives
    const auto start = t;
    for (int ms = 0; ms < payload_seconds * 1000; ++ms) {
        t = start + std::chrono::milliseconds(ms);
        if (keep_forging_data && ms % 10000 == 0) {  // a forged keepalive "from the service" every 10 s
            r.attacker_bytes += 32;
            g.from_endpoint(data(init_index, 32), t);
        }
        for (int k = 0; k < 5; ++k) {  // 5,000 payloads a second of 1,400 bytes (+ 32 of framing)
            r.attacker_bytes += 1440;
            if (g.from_client(data(found, 1440), t) == V::forward) r.delivered_bytes += 1440;
        }
    }
    r.seconds = std::chrono::duration<double>(t - T0).count();
    return r;
}

}  // namespace

TEST_CASE("gate: the port sweep attack, measured") {
    // The port the relay drew; the sweep's cost grows with its distance from 1024.
    for (uint16_t relay_port : {uint16_t(1024 + 32256), uint16_t(65535)}) {
        INFO("relay port " << relay_port);
        const SweepResult silent = sweep_attack(relay_port, 30000, false, 60);
        REQUIRE(silent.unlocked);
        const uint64_t swept = uint64_t(relay_port) - 1024 + 1;
        CHECK(silent.sweep_datagrams == swept);
        // Without forged data from the service after the sweep: 64 KiB + 8 KiB/s.
        CHECK(silent.delivered_bytes <= Gate::kLapseBurst + Gate::kLapseRate * 60 + 1440);
        CHECK(double(silent.delivered_bytes) / double(silent.attacker_bytes) < 0.005);
        MESSAGE("sweep to port " << relay_port << ": " << silent.sweep_datagrams << " forged responses ("
                                 << silent.sweep_datagrams * 92 << " B); then 60 s of 7 MB/s payloads, no forged data: "
                                 << silent.delivered_bytes << " B delivered of " << silent.attacker_bytes
                                 << " B spent (" << double(silent.delivered_bytes) / double(silent.attacker_bytes)
                                 << " per byte)");

        const SweepResult forging = sweep_attack(relay_port, 30000, true, 60);
        REQUIRE(forging.unlocked);
        // With forged keepalives the relay cannot tell the service from a WireGuard server: the
        // attacker gets a one-way channel at its own cost, never more than it spends.
        CHECK(forging.delivered_bytes < forging.attacker_bytes);
        CHECK(forging.delivered_bytes > 100 * silent.delivered_bytes);
        MESSAGE("  with a forged keepalive every 10 s: " << forging.delivered_bytes << " B delivered of "
                                                          << forging.attacker_bytes << " B spent ("
                                                          << double(forging.delivered_bytes) / double(forging.attacker_bytes)
                                                          << " per byte)");
    }
    // A sweep too slow to cover the range before the locked session times out finds nothing.
    const SweepResult slow = sweep_attack(60000, 100, false, 1);
    CHECK_FALSE(slow.unlocked);
    CHECK(slow.delivered_bytes == 0);
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
    lim.share = std::make_shared<ForwardShare>(1);  // 1 byte/s: the share bucket holds its minimum
    lim.handshake_timeout = 1h;
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
    CHECK(g.from_client(init(3), T0 + 300s) == V::forward);
    CHECK(g.from_endpoint(resp(5, 3), T0 + 303s) == V::drop_late_answer);
    CHECK(g.from_client(init(4), T0 + 600s) == V::forward);
    CHECK(g.from_endpoint(resp(5, 4), T0 + 600s) == V::forward);
    CHECK(g.from_endpoint(data(4, 32), T0 + 600s) == V::forward);
    for (int i = 0; i < 50; ++i) g.from_client(data(5), T0 + 600s);
    CHECK(g.count(V::drop_share) >= 1);
    Gate n(GateLimits{}, open_destinations(), vpn(), T0);
    unlock(n, T0);
    for (int i = 0; i < 50; ++i) n.from_client(data(0x2000), T0);
    CHECK(n.count(V::drop_no_return) >= 1);
    Gate m(GateLimits{}, open_destinations(), vpn(), T0);
    REQUIRE(m.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
    for (int i = 0; i < 40; ++i) m.from_client(data(2), T0);
    g.close();
    CHECK(g.from_client(data(5), T0) == V::drop_closed);
    for (size_t i = 0; i < Gate::kVerdictCount; ++i) {
        const V v = V(i);
        INFO(to_string(v));
        if (v == V::drop_rate_session)
            CHECK(r.count(v) == 1);
        else if (v == V::drop_claim_budget)
            CHECK(m.count(v) >= 1);
        else if (v == V::drop_no_return)
            CHECK(n.count(v) >= 1);
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

TEST_CASE("gate: a claimed keypair crosses under the budget and unlocks when the VPN answers on it") {
    Gate g(GateLimits{}, open_destinations(), vpn(), T0);
    // Data on a keypair this gate never saw a handshake of: dropped, until it is claimed.
    CHECK(g.from_client(data(0x2000), T0) == V::drop_locked);
    CHECK(g.claim_keypair(0x1000, 0x2000, T0) == Gate::Claim::accepted);
    CHECK(g.claim_keypair(0x1000, 0x2000, T0) == Gate::Claim::accepted);  // the same claim again: free
    CHECK(g.from_client(data(0x2001), T0) == V::drop_locked);  // another keypair
    CHECK(g.from_client(data(0x2000, 96), T0) == V::forward);
    CHECK(g.from_client(init(7), T0) == V::forward);  // handshakes go on as before
    // The endpoint's data to another index, or an echo of ours, does not unlock.
    CHECK(g.from_endpoint(data(0x2000, 96), T0 + 1ms) == V::drop_locked);
    CHECK(g.from_endpoint(data(0x1001, 96), T0 + 1ms) == V::drop_locked);
    CHECK_FALSE(g.unlocked());
    // Its transport data to the claimed client index does.
    CHECK(g.from_endpoint(data(0x1000, 96), T0 + 2ms) == V::forward);
    CHECK(g.unlocked());
    CHECK(g.unlocked_by_claim());
    for (int i = 0; i < 100; ++i) CHECK(g.from_client(data(0x2000), T0 + 3ms) == V::forward);
    CHECK(g.from_endpoint(data(0x1000, 96), T0 + 4ms) == V::forward);
    CHECK(g.claim_keypair(5, 6, T0) == Gate::Claim::unlocked);
}

TEST_CASE("gate: a non-WireGuard target gets at most the claim budget") {
    SUBCASE("a silent target") {
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        REQUIRE(g.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
        uint64_t bytes = 0, packets = 0;
        for (int i = 0; i < 10000; ++i) {
            Bytes d = data(2, 32 + 16 * size_t(i % 90));
            if (g.from_client(d, T0 + std::chrono::milliseconds(i)) == V::forward) {
                bytes += d.size();
                ++packets;
            }
        }
        CHECK(bytes <= Gate::kClaimBudgetBytes);
        CHECK(packets <= Gate::kClaimBudgetPackets);
        CHECK(g.count(V::drop_claim_budget) > 9000);
        // More claims do not refill it, and there are at most kMaxClaims distinct ones.
        for (uint32_t k = 0; k < 10; ++k) g.claim_keypair(100 + k, 200 + k, T0 + 20s);
        CHECK(g.claim_keypair(300, 400, T0 + 20s) == Gate::Claim::too_many);
        for (uint32_t k = 0; k < 10; ++k) CHECK(g.from_client(data(200 + k % 3, 32), T0 + 20s) != V::forward);
        CHECK(g.claim_bytes() <= Gate::kClaimBudgetBytes);
    }
    SUBCASE("an echo never unlocks; equal indices are refused") {
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        CHECK(g.claim_keypair(5, 5, T0) == Gate::Claim::same_index);
        REQUIRE(g.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
        for (int i = 0; i < 50; ++i) {
            Bytes d = data(2, 64);
            if (g.from_client(d, T0) == V::forward) g.from_endpoint(d, T0);  // echoed back
        }
        CHECK_FALSE(g.unlocked());
        CHECK(g.packets_to_client() == 0);
    }
    SUBCASE("a target that answers with something else closes the session") {
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        REQUIRE(g.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
        CHECK(g.from_client(data(2, 64), T0) == V::forward);
        CHECK(g.from_endpoint(Bytes(40, 0x55), T0) == V::drop_not_wireguard);
        CHECK(g.closed());
        CHECK(g.from_client(data(2, 64), T0) == V::drop_closed);
    }
    SUBCASE("the answer must come within the window of a claimed datagram") {
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        REQUIRE(g.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
        CHECK(g.from_endpoint(data(1, 64), T0) == V::drop_locked);  // nothing claimed crossed yet
        CHECK(g.from_client(data(2, 64), T0) == V::forward);
        CHECK(g.from_endpoint(data(1, 64), T0 + 3s) == V::drop_locked);
        CHECK_FALSE(g.unlocked());
    }
    SUBCASE("an echo of an earlier claim's data never unlocks a later claim") {
        // Claim (X, Y), data on Y crosses; a second claim naming Y as the client's index would
        // let the echo of that data (receiver Y) unlock the session: refused.
        Gate g(GateLimits{}, open_destinations(), vpn(), T0);
        REQUIRE(g.claim_keypair(0xAAAA, 0xBBBB, T0) == Gate::Claim::accepted);
        Bytes on_y = data(0xBBBB, 64);
        REQUIRE(g.from_client(on_y, T0) == V::forward);
        CHECK(g.claim_keypair(0xBBBB, 0xCCCC, T0 + 1ms) == Gate::Claim::same_index);
        REQUIRE(g.claim_keypair(0xDDDD, 0xCCCC, T0 + 1ms) == Gate::Claim::accepted);
        CHECK(g.from_client(data(0xCCCC, 64), T0 + 1ms) == V::forward);
        CHECK(g.from_endpoint(on_y, T0 + 30ms) == V::drop_locked);
        CHECK(g.from_endpoint(data(0xCCCC, 64), T0 + 31ms) == V::drop_locked);
        // Nor a third claim naming an earlier VPN index.
        CHECK(g.claim_keypair(0xCCCC, 0xEEEE, T0 + 2ms) == Gate::Claim::same_index);
        CHECK_FALSE(g.unlocked());
        CHECK(g.packets_to_client() == 0);
    }
    SUBCASE("many sessions together give one target no more than the destination's claimed-data budget") {
        DestinationLimiter dest;  // the relay's defaults
        std::vector<std::unique_ptr<Gate>> gates;
        uint64_t bytes = 0;
        auto t = T0;
        const int seconds = 30;
        for (int i = 0; i < seconds * 20; ++i, t += 50ms) {  // a new session every 50 ms, ports vary
            auto target = *Endpoint::parse("198.51.100.9:" + std::to_string(1000 + i));
            auto g = std::make_unique<Gate>(GateLimits{}, dest, target, t);
            if (g->claim_keypair(1, 2, t) != Gate::Claim::accepted) continue;
            for (int k = 0; k < 40; ++k) {
                Bytes d = data(2, 512);
                if (g->from_client(d, t) == V::forward) bytes += d.size();
            }
            gates.push_back(std::move(g));
        }
        MESSAGE("claimed bytes to one target address from " << gates.size() << " sessions in " << seconds << " s: " << bytes);
        CHECK(bytes > 0);
        CHECK(bytes <= uint64_t(DestinationLimiter::kClaimedBurstBytes + DestinationLimiter::kClaimedBytesPerSecond * seconds));
    }
    SUBCASE("claims take from the destination's initiation budget") {
        DestinationLimiter dest(2, 0.001, 16);
        Gate a(GateLimits{}, dest, vpn(), T0), b(GateLimits{}, dest, vpn(), T0), c(GateLimits{}, dest, vpn(), T0);
        CHECK(a.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
        CHECK(b.claim_keypair(1, 2, T0) == Gate::Claim::accepted);
        CHECK(c.claim_keypair(1, 2, T0) == Gate::Claim::rate_destination);
        CHECK(c.from_client(data(2, 64), T0) == V::drop_locked);
    }
}

TEST_CASE("gate: a locked session kept alive by the client's control session does not expire") {
    GateLimits lim;
    lim.handshake_timeout = 60s;
    Gate g(lim, open_destinations(), vpn(), T0);
    for (int i = 1; i <= 20; ++i) g.keep_locked(T0 + std::chrono::seconds(10 * i));
    CHECK_FALSE(g.expired(T0 + 250s));
    CHECK(g.expired(T0 + 260s));  // 60 s after the last keepalive
    CHECK_FALSE(g.unlocked());
    Gate h(lim, open_destinations(), vpn(), T0);
    unlock(h, T0);
    h.keep_locked(T0 + 500s);  // nothing for an unlocked gate: its idle timeout rules
    CHECK(h.deadline() == T0 + lim.idle_timeout);
}
