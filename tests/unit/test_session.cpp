// The session state machine driven through a simulated network: two sides, addresses as a
// NAT would rewrite them, time advanced by hand.
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <memory>

#include "crypto/random.h"
#include "crypto/session_keys.h"
#include "relay/control_frame.h"
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
