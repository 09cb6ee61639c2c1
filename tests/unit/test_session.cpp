// The session state machine driven through a simulated network: two sides, addresses as a
// NAT would rewrite them, time advanced by hand.
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <memory>

#include "crypto/random.h"
#include "crypto/session_keys.h"
#include "relay/wire/control_frame.h"
#include "relay/session.h"

using namespace pave;
using namespace std::chrono_literals;
using Clock = Session::Clock;

namespace {

SessionKeys make_keys() {
    Bytes exp(32);
    random_bytes(exp);
    SecretArray<32> ee;
    random_bytes(ee.b);
    return *derive_session_keys(exp, ee);
}

struct Datagram {
    Endpoint from, to;
    Bytes data;
};

// Client C (public address c_pub) and relay R (public r_pub). Datagrams sent to an address
// that belongs to nobody are recorded in `lost`.
struct Net {
    Endpoint c_pub = *Endpoint::parse("203.0.113.10:4600");
    Endpoint r_pub = *Endpoint::parse("203.0.113.20:4500");
    std::deque<Datagram> wire;
    std::map<std::string, size_t> bytes_to;  // every address, bytes sent to it
    bool c_drop = false;                    // drop everything the client sends
    Clock::time_point now = Clock::now();
    SessionKeys keys = make_keys();
    SessionTimers timers;
    std::unique_ptr<Session> c, r;

    void start(std::vector<Endpoint> c_sees_r, std::vector<Endpoint> r_sees_c) {
        c = std::make_unique<Session>(SessionRole::client, keys, c_sees_r, now, timers, [this](const Endpoint& to, ByteView d) {
            bytes_to[to.to_string()] += d.size();
            if (!c_drop) wire.push_back({c_pub, to, Bytes(d.begin(), d.end())});
        });
        r = std::make_unique<Session>(SessionRole::relay, keys, r_sees_c, now, timers, [this](const Endpoint& to, ByteView d) {
            bytes_to[to.to_string()] += d.size();
            wire.push_back({r_pub, to, Bytes(d.begin(), d.end())});
        });
    }
    void deliver() {
        while (!wire.empty()) {
            Datagram d = std::move(wire.front());
            wire.pop_front();
            if (d.to == r_pub) r->on_control(d.data, d.from, now);
            else if (d.to == c_pub) c->on_control(d.data, d.from, now);
        }
    }
    void run_for(std::chrono::milliseconds total, std::chrono::milliseconds step = 10ms) {
        auto end = now + total;
        while (now < end) {
            now += step;
            if (c->next_deadline() <= now) c->on_timer(now);
            if (r->next_deadline() <= now) r->on_timer(now);
            deliver();
        }
    }
};

}  // namespace

TEST_CASE("both sides punch, validate and bind each other's public address") {
    Net n;
    n.start({n.r_pub}, {n.c_pub});
    n.run_for(500ms);
    REQUIRE(n.c->state() == SessionState::established);
    REQUIRE(n.r->state() == SessionState::established);
    CHECK(*n.c->peer() == n.r_pub);
    CHECK(*n.r->peer() == n.c_pub);
    CHECK(n.c->rtt().has_value());
    CHECK(n.c->reflexive() == n.c_pub);  // learned from the relay's probe_ack
    CHECK(n.c->total_drops() == 0);
    CHECK(n.r->total_drops() == 0);
}

TEST_CASE("an established session lives through idle on keepalives and times out when the peer goes") {
    Net n;
    n.start({n.r_pub}, {n.c_pub});
    n.run_for(500ms);
    REQUIRE(n.r->state() == SessionState::established);
    auto in_before = n.r->frames_in();
    n.run_for(60s, 100ms);
    CHECK(n.c->state() == SessionState::established);
    CHECK(n.r->state() == SessionState::established);
    CHECK(n.r->frames_in() >= in_before + 10);  // keepalives every 5 s
    n.c_drop = true;                             // the client vanishes
    n.run_for(30s, 100ms);
    CHECK(n.r->state() == SessionState::closed);
    CHECK(n.r->failure().find("peer silent") != std::string::npos);
}

TEST_CASE("punching fails within the timeout with a reason when nothing answers") {
    Net n;
    n.timers.punch_timeout = 5s;
    auto nowhere = *Endpoint::parse("198.51.100.99:9");
    auto nowhere2 = *Endpoint::parse("198.51.100.98:9");
    n.start({nowhere}, {nowhere2});
    n.run_for(7s);
    CHECK(n.c->state() == SessionState::failed);
    CHECK(n.c->failure().find("no path validated") != std::string::npos);
    CHECK(n.r->state() == SessionState::failed);
    // bounded probing of the unvalidated candidate: within its punch credit
    CHECK(n.bytes_to[nowhere.to_string()] <= n.timers.punch_credit);
}

TEST_CASE("a re-bind after a NAT mapping change is validated before the relay switches") {
    Net n;
    n.start({n.r_pub}, {n.c_pub});
    n.run_for(500ms);
    REQUIRE(*n.r->peer() == n.c_pub);
    n.c_pub = *Endpoint::parse("203.0.113.10:5999");  // NAT A picked a new public port
    n.run_for(6s, 50ms);                              // the next keepalive comes from the new port
    CHECK(*n.r->peer() == n.c_pub);
    CHECK(n.r->rebinds() == 1);
    CHECK(n.r->state() == SessionState::established);
}

TEST_CASE("a spoofed re-bind gets at most 3x what arrived from the spoofed address") {
    Net n;
    n.start({n.r_pub}, {n.c_pub});
    n.run_for(500ms);
    REQUIRE(n.r->state() == SessionState::established);
    // An on-path attacker that captured fresh client frames replays them from a victim address.
    FrameCodec attacker(client_frame_keys(n.keys));
    for (int i = 0; i < 1000; ++i) attacker.seal(PingFrame{1, 1});  // skip counters the client already used
    auto victim = *Endpoint::parse("192.0.2.66:53");
    size_t received = 0;
    for (int i = 0; i < 20; ++i) {
        Bytes f = attacker.seal(PingFrame{uint64_t(i), 0});
        received += f.size();
        n.r->on_control(f, victim, n.now);
        n.deliver();
    }
    CHECK(n.bytes_to[victim.to_string()] > 0);  // it did challenge the new address...
    CHECK(n.bytes_to[victim.to_string()] <= 3 * received);  // ...within the 3x budget
    CHECK(*n.r->peer() == n.c_pub);  // and never bound it: no ack came from it
    CHECK(n.r->rebinds() == 0);
}

TEST_CASE("forged, replayed and malformed frames are dropped and counted") {
    Net n;
    n.start({n.r_pub}, {n.c_pub});
    n.run_for(500ms);
    FrameCodec good(client_frame_keys(n.keys));
    for (int i = 0; i < 1000; ++i) good.seal(PingFrame{1, 1});
    Bytes f = good.seal(PingFrame{7, 0});
    n.r->on_control(f, n.c_pub, n.now);
    n.r->on_control(f, n.c_pub, n.now);  // replay
    CHECK(n.r->drops(SessionDrop::replayed) == 1);
    Bytes forged = f;
    forged[20] ^= 1;
    n.r->on_control(forged, n.c_pub, n.now);
    CHECK(n.r->drops(SessionDrop::auth_failed) + n.r->drops(SessionDrop::replayed) >= 2);
    Bytes shortf(f.begin(), f.begin() + 10);
    n.r->on_control(shortf, n.c_pub, n.now);
    CHECK(n.r->drops(SessionDrop::malformed) == 1);
    SessionKeys other = make_keys();
    FrameCodec stranger(client_frame_keys(other));
    n.r->on_control(stranger.seal(PingFrame{1, 1}), n.c_pub, n.now);
    CHECK(n.r->drops(SessionDrop::wrong_conn) == 1);
    CHECK(n.r->state() == SessionState::established);
}

// Probes a relay sends to the candidates of offers whose addresses never answer: per offer
// (one session) and, across many offers aimed at one victim, per destination address group.
namespace {

struct SilentProbes {
    size_t bytes = 0, datagrams = 0;
    std::map<std::string, size_t> bytes_to_ip;
};

// One relay session per offer, started `gap` apart, each run through its whole punch timeout.
SilentProbes run_silent_offers(const std::vector<std::vector<Endpoint>>& offers, std::chrono::milliseconds gap,
                               ProbeLimiter* limiter) {
    SilentProbes out;
    SessionTimers timers;
    auto t = Clock::now();
    std::vector<std::unique_ptr<Session>> sessions;
    auto send = [&](const Endpoint& to, ByteView d) {
        out.bytes += d.size();
        ++out.datagrams;
        out.bytes_to_ip[to.ip_string()] += d.size();
    };
    auto end = t + gap * offers.size() + timers.punch_timeout + 1s;
    size_t next = 0;
    auto next_start = t;
    for (; t < end; t += 10ms) {
        while (next < offers.size() && next_start <= t) {
            sessions.push_back(std::make_unique<Session>(SessionRole::relay, make_keys(), offers[next], t, timers, send));
            if (limiter) sessions.back()->set_probe_limiter(limiter);
            ++next;
            next_start += gap;
        }
        for (auto& s : sessions)
            if (s->next_deadline() <= t) s->on_timer(t);
    }
    for (auto& s : sessions) CHECK(s->state() == SessionState::failed);
    return out;
}

std::vector<Endpoint> eight(const std::string& prefix, bool same_ip) {
    std::vector<Endpoint> v;
    for (int i = 0; i < 8; ++i)
        v.push_back(*Endpoint::parse(same_ip ? prefix + "1:" + std::to_string(4000 + i) : prefix + std::to_string(i + 1) + ":4000"));
    return v;
}

}  // namespace

TEST_CASE("one offer with eight silent candidates costs the relay at most the punch credit in total") {
    SessionTimers timers;
    auto one = run_silent_offers({eight("198.51.100.", false)}, 0ms, nullptr);
    MESSAGE("one 512-byte offer, 8 candidates that never answer: " << one.datagrams << " datagrams, " << one.bytes
                                                                   << " B in total (3x the offer: 1536 B)");
    CHECK(one.bytes <= timers.punch_credit);
    CHECK(one.bytes * 3 <= 2 * 1536);  // at most two thirds of 3x the offer's own size
    CHECK(one.datagrams >= 8);        // every candidate was probed at least once
    for (const auto& [ip, b] : one.bytes_to_ip) CHECK(b > 0);
}

TEST_CASE("many offers aimed at one victim are bounded per destination across sessions") {
    // 200 offers at 10 per second, every candidate on one victim address.
    std::vector<std::vector<Endpoint>> offers(200, eight("192.0.2.", true));
    ProbeLimiter limiter;
    auto limited = run_silent_offers(offers, 100ms, &limiter);
    double seconds = 200 * 0.1 + SessionTimers{}.punch_timeout.count() / 1000.0 + 1;
    size_t to_victim = limited.bytes_to_ip["192.0.2.1"];
    MESSAGE("200 offers over 20 s, all naming 192.0.2.1: " << to_victim << " B sent to it in " << seconds
                                                            << " s (per offer alone: up to " << SessionTimers{}.punch_credit
                                                            << " B, i.e. " << 200 * SessionTimers{}.punch_credit << " B)");
    CHECK(to_victim <= ProbeLimiter::kDefaultBurstBytes + ProbeLimiter::kDefaultRateBytes * seconds);
    CHECK(to_victim > 0);
    CHECK(limiter.refused() > 0);
    // Without the shared limiter the same offers would each spend their own credit.
    auto unlimited = run_silent_offers(std::vector<std::vector<Endpoint>>(20, eight("192.0.2.", true)), 100ms, nullptr);
    CHECK(unlimited.bytes_to_ip["192.0.2.1"] > 10 * 1000);
}

TEST_CASE("a relay's CLOSE reason reaches the client") {
    Net n;
    n.start({n.r_pub}, {n.c_pub});
    n.run_for(500ms);
    REQUIRE(n.c->state() == SessionState::established);
    n.r->close(5, n.now);
    n.deliver();
    CHECK(n.c->state() == SessionState::closed);
    CHECK(n.c->peer_close_reason() == 5);
    CHECK(n.c->failure().find("reason 5") != std::string::npos);
}
