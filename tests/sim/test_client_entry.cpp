// The client's local WireGuard entry in a simulated swarm: following a WireGuard that restarted
// on a new port, telling the user whether the VPN answers WireGuard's handshake, and keeping
// the initiation WireGuard sent before the path was up.
#include <doctest/doctest.h>

#include <string>

#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

constexpr const char* kAnswered = "VPN answered the handshake";
constexpr const char* kNoAnswer =
    "no answer from the VPN to WireGuard's handshake after 5 s: wrong VPN endpoint or port, wrong key, or the VPN is down";

bool settled(const SimClient& c) { return c.step() == Step::connected || c.step() == Step::failed; }

// A swarm with one VPN and one relay, and a client behind a port-restricted NAT, connected.
struct Connected {
    Swarm s;
    SimWireGuardServer& vpn;
    SimRelay& relay;
    SimClient& client;
    explicit Connected(uint64_t seed, ClientEngineConfig cfg = {}, bool connect = true)
        : s(seed), vpn(s.add_vpn()), relay(s.add_relay()),
          client(s.add_client(cfg, &s.add_nat(NatConfig::port_restricted()))) {
        if (!connect) return;
        client.start();
        REQUIRE(s.run_until([&] { return settled(client); }, 30s));
        REQUIRE(client.step() == Step::connected);
    }
};

// A handshake and `n` data packets echoed through the tunnel.
void round_trip(Swarm& s, SimClient& c, int n) {
    auto& wg = c.wireguard();
    uint64_t echoes = wg.echoes();
    wg.send_initiation();
    REQUIRE(s.run_until([&] { return wg.has_keypair(); }, 2s));
    for (int i = 0; i < n; ++i) wg.send_data(100);
    s.run_for(1s);
    CHECK(wg.echoes() == echoes + uint64_t(n));
}

}  // namespace

TEST_CASE("client entry: a WireGuard restarted on a new local port is followed from its first initiation") {
    Connected w(41);
    SimClient& c = w.client;
    round_trip(w.s, c, 3);
    CHECK(c.count_events(kAnswered) == 1);

    // wg-quick down; wg-quick up: a new source port. Data from it to a keypair that is not the
    // live one is not served (only an initiation, or the live keypair's data, moves the lock)...
    const Endpoint moved = *Endpoint::parse("127.0.0.1:40001");
    c.move_wireguard(moved);
    const uint64_t to_relay = c.engine().counters().wg_to_relay;
    c.engine().on_local_datagram(w.s.now(), moved, wg_transport(0x7777, 0, 32));
    w.s.run_for(500ms);
    CHECK(c.engine().counters().local_other_source == 1);
    CHECK(c.engine().counters().wg_to_relay == to_relay);
    CHECK(c.engine().local_peer() == SimClient::local_wireguard_address());
    CHECK_FALSE(c.saw_event("WireGuard source changed"));

    // ...its handshake initiation does, and the tunnel carries traffic again at once.
    auto t0 = w.s.events.now();
    round_trip(w.s, c, 5);
    CHECK(w.s.events.now() - t0 <= 2s);
    CHECK(c.engine().local_peer() == moved);
    CHECK(c.engine().counters().local_relocks == 1);
    CHECK(c.saw_event("WireGuard source changed to 127.0.0.1:40001; following it"));
    // A new WireGuard gets its own "answered" line.
    CHECK(c.count_events(kAnswered) == 2);
    CHECK(c.engine().attempts() == 1);
    CHECK(c.wireguard().unexpected() == 0);

    // The old port is served no more: another process there sending transport data is dropped.
    const uint64_t other = c.engine().counters().local_other_source;
    c.engine().on_local_datagram(w.s.now(), SimClient::local_wireguard_address(), wg_transport(1, 0, 32));
    CHECK(c.engine().counters().local_other_source == other + 1);
    CHECK(c.engine().local_peer() == moved);
}

TEST_CASE("client entry: a WireGuard moved to a new port with its keypair (wg set listen-port) is followed from its data") {
    Connected w(43);
    SimClient& c = w.client;
    round_trip(w.s, c, 3);
    w.s.run_for(1s);  // the locked source falls quiet
    const Endpoint moved = *Endpoint::parse("127.0.0.1:40002");
    c.move_wireguard(moved);
    const uint64_t echoes = c.wireguard().echoes();
    auto t0 = w.s.events.now();
    for (int i = 0; i < 5; ++i) c.wireguard().send_data(100);  // the same keypair, no handshake
    w.s.run_for(1s);
    CHECK(c.wireguard().echoes() == echoes + 5);
    CHECK(w.s.events.now() - t0 <= 2s);
    CHECK(c.engine().local_peer() == moved);
    CHECK(c.engine().counters().local_relocks == 1);
    CHECK(c.count_events(kAnswered) == 1);  // the same WireGuard: no new handshake watch
}

TEST_CASE("client entry: an initiation from a source that is not loopback does not take the entry over") {
    Connected w(42);
    SimClient& c = w.client;
    round_trip(w.s, c, 1);
    const uint64_t to_relay = c.engine().counters().wg_to_relay;
    for (const char* src : {"192.168.1.2:51821", "10.0.0.7:40000", "[2001:db8::5]:40000"}) {
        CAPTURE(src);
        c.engine().on_local_datagram(w.s.now(), *Endpoint::parse(src), wg_initiation(7));
        CHECK(c.engine().local_peer() == SimClient::local_wireguard_address());
    }
    CHECK(c.engine().counters().local_other_source == 3);
    CHECK(c.engine().counters().local_relocks == 0);
    CHECK(c.engine().counters().wg_to_relay == to_relay);
    CHECK_FALSE(c.saw_event("WireGuard source changed"));
    round_trip(w.s, c, 2);  // the locked WireGuard is still served
}

TEST_CASE("client entry: the VPN's answer to the handshake is reported once per path") {
    Connected w(43);
    SimClient& c = w.client;
    CHECK_FALSE(c.saw_event(kAnswered));
    round_trip(w.s, c, 2);
    const EngineEvent* e = c.find_event(kAnswered);
    REQUIRE(e);
    CHECK(e->level == EngineEvent::Level::info);
    CHECK(e->message == kAnswered);
    CHECK(c.engine().vpn_answered());
    // WireGuard's rekeys are answered too: no new line.
    round_trip(w.s, c, 1);
    round_trip(w.s, c, 1);
    w.s.run_for(10s);
    CHECK(c.count_events(kAnswered) == 1);
    CHECK_FALSE(c.saw_event("no answer from the VPN"));
}

TEST_CASE("client entry: a VPN that does not answer WireGuard's handshake gets one warning after 5 s") {
    SUBCASE("the VPN is silent (down, or the key is wrong)") {
        Connected w(44);
        w.vpn.set_silent(true);
        SimClient& c = w.client;
        auto t0 = w.s.events.now();
        c.wireguard().send_initiation();
        REQUIRE(w.s.run_until([&] { return w.vpn.initiations() == 1; }, 1s));
        w.s.run_for(4s);
        CHECK_FALSE(c.saw_event("no answer from the VPN"));
        // WireGuard retries every 5 s; one warning, 5 s after the first forwarded initiation.
        REQUIRE(w.s.run_until([&] { return c.saw_event("no answer from the VPN"); }, 3s));
        auto took = w.s.events.now() - t0;
        MESSAGE("warning " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms after WireGuard's first initiation");
        CHECK(took >= 5s);
        CHECK(took <= 5s + 200ms);
        const EngineEvent* e = c.find_event("no answer from the VPN");
        REQUIRE(e);
        CHECK(e->level == EngineEvent::Level::warn);
        CHECK(e->message == kNoAnswer);
        for (int i = 0; i < 3; ++i) {
            c.wireguard().send_initiation();
            w.s.run_for(5s);
        }
        CHECK(c.count_events("no answer from the VPN") == 1);
        CHECK(w.vpn.initiations() == 4);
        CHECK_FALSE(c.saw_event(kAnswered));
        CHECK(c.step() == Step::connected);  // the path itself is fine

        // The VPN comes back: the next initiation is answered, and the user is told.
        w.vpn.set_silent(false);
        round_trip(w.s, c, 2);
        CHECK(c.count_events(kAnswered) == 1);
    }
    SUBCASE("the client names a wrong VPN port") {
        Swarm s(45);
        SimWireGuardServer& vpn = s.add_vpn();
        s.add_relay();
        ClientEngineConfig cfg;
        cfg.vpn = vpn.endpoint();
        cfg.vpn.set_port(uint16_t(vpn.endpoint().port() + 1));  // nothing listens there
        SimClient& c = s.add_client(cfg, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        // The real WireGuard's first initiation and its retries (REKEY_TIMEOUT, 5 s).
        auto t0 = s.events.now();
        c.wireguard().send_initiation();
        s.run_for(5s);
        c.wireguard().send_initiation();
        REQUIRE(s.run_until([&] { return c.saw_event("no answer from the VPN"); }, 5s));
        CHECK(s.events.now() - t0 <= 10s);
        CHECK(vpn.initiations() == 0);
        CHECK(c.count_events("no answer from the VPN") == 1);
        CHECK_FALSE(c.saw_event(kAnswered));
    }
    SUBCASE("the VPN port belongs to a service that answers with something else") {
        // The relay closes a session whose endpoint answers an initiation with anything but
        // WireGuard; the client says so at once, and only once however often it reconnects.
        Swarm s(51);
        SimWireGuardServer& vpn = s.add_vpn();
        s.add_relay();
        SimSocket& dns = s.net.bind("192.0.2.201:53", {});
        dns.set_receive([&](const Endpoint& from, ByteView) { dns.send(from, Bytes(40, 0x11)); });
        ClientEngineConfig cfg;
        cfg.vpn = dns.local();
        SimClient& c = s.add_client(cfg, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        auto t0 = s.events.now();
        c.wireguard().send_initiation();
        REQUIRE(s.run_until([&] { return c.saw_event("no answer from the VPN"); }, 2s));
        CHECK(s.events.now() - t0 <= 1s);
        const EngineEvent* e = c.find_event("no answer from the VPN");
        REQUIRE(e);
        CHECK(e->level == EngineEvent::Level::warn);
        CHECK(e->message.rfind("no answer from the VPN to WireGuard's handshake: the relay closed the session ", 0) == 0);
        CHECK(e->message.find("wrong VPN endpoint or port?") != std::string::npos);
        // WireGuard retries every 5 s; each retry meets a new session that the relay closes again.
        for (int i = 0; i < 3; ++i) {
            REQUIRE(s.run_until([&] { return c.step() == Step::connected; }, 10s));
            c.wireguard().send_initiation();
            s.run_for(5s);
        }
        CHECK(c.engine().attempts() >= 3);
        CHECK(c.count_events("no answer from the VPN") == 1);
        CHECK(vpn.initiations() == 0);
        s.net.close(dns);
    }
}

TEST_CASE("client entry: after a relay switch the client says what it waits for, and reports the answer again") {
    SUBCASE("WireGuard keeps sending data on its old keypair: the keypair moves to the new session") {
        Connected w(46);
        SimClient& c = w.client;
        round_trip(w.s, c, 2);
        const uint64_t responses = w.vpn.responses();
        w.relay.shutdown();
        REQUIRE(w.s.run_until([&] { return c.engine().attempts() == 2 && c.step() == Step::connected; }, 30s));
        const EngineEvent* e = c.find_event("new session: WireGuard's keypair named to relay");
        REQUIRE(e);
        CHECK(e->level == EngineEvent::Level::info);
        // The new session's gate carries the named keypair: data flows without a new handshake.
        const uint64_t echoes = c.wireguard().echoes();
        for (int i = 0; i < 5; ++i) c.wireguard().send_data(100);
        w.s.run_for(2s);
        CHECK(c.wireguard().echoes() == echoes + 5);
        CHECK(w.vpn.responses() == responses);
        CHECK_FALSE(c.saw_event("no answer from the VPN"));
        REQUIRE(c.engine().last_failover());
        CHECK(c.engine().last_failover()->keypair_moved);
        CHECK(c.engine().last_failover()->gap);
        round_trip(w.s, c, 3);  // and a later handshake goes through as usual
        CHECK(c.count_events(kAnswered) == 1);
    }
    SUBCASE("WireGuard sent an initiation while no path was up") {
        Connected w(47);
        SimClient& c = w.client;
        round_trip(w.s, c, 2);
        w.relay.shutdown();
        REQUIRE(w.s.run_until([&] { return c.step() != Step::connected; }, 5s));
        c.wireguard().send_initiation();
        REQUIRE(w.s.run_until([&] { return c.step() == Step::connected; }, 30s));
        CHECK(c.saw_event("sent WireGuard's handshake initiation held while no path was up"));
        CHECK(c.saw_event("new session: waiting for the VPN to answer WireGuard's handshake on it"));
        REQUIRE(w.s.run_until([&] { return c.wireguard().has_keypair(); }, 1s));
        CHECK(c.count_events(kAnswered) == 2);
        CHECK(c.engine().counters().held_initiations_sent == 1);
    }
}

TEST_CASE("client entry: WireGuard's first initiation, sent before the path is up, reaches the VPN once it is") {
    Connected w(48, {}, false);
    SimClient& c = w.client;
    c.start();
    // WireGuard starts with PAVE: one initiation, at once, and nothing else (its retry would come
    // only 5 s later).
    c.wireguard().send_initiation();
    w.s.run_for(1ms);
    CHECK(c.step() != Step::connected);
    CHECK(c.engine().holds_initiation());
    REQUIRE(w.s.run_until([&] { return c.step() == Step::connected; }, 30s));
    auto connected_at = w.s.events.now();
    REQUIRE(w.s.run_until([&] { return c.wireguard().has_keypair(); }, 2s));
    MESSAGE("WireGuard's handshake completed " << std::chrono::duration_cast<std::chrono::milliseconds>(w.s.events.now() - connected_at).count()
                                               << " ms after the path connected");
    CHECK(w.vpn.initiations() == 1);
    CHECK(c.wireguard().responses() == 1);
    CHECK(c.engine().counters().initiations_held == 1);
    CHECK(c.engine().counters().held_initiations_sent == 1);
    CHECK_FALSE(c.engine().holds_initiation());
    CHECK(c.saw_event(kAnswered));
    for (int i = 0; i < 4; ++i) c.wireguard().send_data(100);
    w.s.run_for(1s);
    CHECK(c.wireguard().echoes() == 4);
}

TEST_CASE("client entry: only the newest held initiation is sent, and none older than 5 s") {
    SUBCASE("several initiations before the path is up: the newest is sent") {
        Connected w(49, {}, false);
        SimClient& c = w.client;
        c.start();
        for (int i = 0; i < 3; ++i) {
            c.wireguard().send_initiation();
            w.s.run_for(100ms);
        }
        REQUIRE(w.s.run_until([&] { return c.step() == Step::connected; }, 30s));
        REQUIRE(w.s.run_until([&] { return c.wireguard().has_keypair(); }, 2s));  // it answers the newest
        CHECK(w.vpn.initiations() == 1);
        CHECK(c.engine().counters().initiations_held == 3);
        CHECK(c.engine().counters().held_initiations_sent == 1);
        CHECK(c.engine().counters().local_dropped_not_connected == 2);
    }
    SUBCASE("an initiation older than 5 s when the path comes up is dropped") {
        Swarm s(50);
        SimWireGuardServer& vpn = s.add_vpn();
        SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        c.wireguard().send_initiation();
        s.run_for(6s);  // no relay in the directory yet
        s.add_relay();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        s.run_for(2s);
        CHECK(vpn.initiations() == 0);
        CHECK(c.engine().counters().held_initiations_sent == 0);
        CHECK(c.engine().counters().local_dropped_not_connected == 1);
        CHECK_FALSE(c.engine().holds_initiation());
        CHECK_FALSE(c.saw_event("sent WireGuard's handshake initiation"));
    }
}
