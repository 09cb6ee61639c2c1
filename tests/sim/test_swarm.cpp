// The role engines in a simulated swarm: relays and clients behind NATs, a simulated DHT and
// WireGuard endpoints, all in one process on a virtual clock. Each case runs seconds to minutes
// of virtual time in milliseconds of wall time.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "dht/inbox_keys.h"
#include "dht/presence_record.h"
#include "dht/rendezvous_blob.h"
#include "relay/wire/control_frame.h"
#include "relay/wire/demux.h"
#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

bool settled(const SimClient& c) { return c.step() == Step::connected || c.step() == Step::failed; }

// The relay the client's session runs through (nullptr if none).
SimRelay* relay_of(Swarm& s, SimClient& c) {
    const auto& r = c.engine().relay();
    return r ? s.relay_by_key(r->node_pub) : nullptr;
}

// The relay's only session, established and bound to `peer`.
bool relay_holds(SimRelay& r, const Endpoint& peer) {
    for (const auto& id : r.engine().session_ids()) {
        auto v = r.engine().session(id);
        if (v && v->session.state() == SessionState::established && v->session.peer() && *v->session.peer() == peer)
            return true;
    }
    return false;
}

// The client's address as the relay sees it: its NAT's mapping towards the relay.
Endpoint public_of(Swarm& s, SimClient& c, SimRelay& r) {
    if (!c.socket().nat()) return c.socket().local();
    return c.socket().nat()->mapping_of(c.socket().local(), r.endpoint(), s.events.now()).value_or(Endpoint{});
}

// WireGuard through the tunnel: a handshake, then `n` data packets echoed by the VPN server.
void wireguard_round_trip(Swarm& s, SimClient& c, int n) {
    auto& wg = c.wireguard();
    uint64_t echoes = wg.echoes();
    wg.send_initiation();
    REQUIRE(s.run_until([&] { return wg.has_keypair(); }, 2s));
    for (int i = 0; i < n; ++i) wg.send_data(100);
    s.run_for(1s);
    CHECK(wg.echoes() == echoes + uint64_t(n));
}

// What a client and its relay did, for a failure message.
void explain(Swarm& s, SimClient& c) {
    MESSAGE("client at " << c.socket().local().to_string() << ", step " << std::string(ClientEngine::to_string(c.step())));
    for (const auto& e : c.events()) MESSAGE("  client: " << e.message);
    SimRelay* r = relay_of(s, c);
    if (!r) return;
    for (const auto& e : r->events()) MESSAGE("  relay: " << e.message);
    for (const auto& id : r->engine().session_ids()) {
        auto v = r->engine().session(id);
        MESSAGE("  relay session " << pave::to_string(v->session.state()) << " peer "
                                   << (v->session.peer() ? v->session.peer()->to_string() : "-"));
    }
}

}  // namespace

TEST_CASE("swarm: rendezvous and punching through each kind of NAT") {
    struct Kind {
        const char* name;
        std::optional<NatConfig> nat;
    };
    const std::vector<Kind> kinds = {
        {"public", std::nullopt},
        {"full cone", NatConfig::full_cone()},
        {"address-restricted", NatConfig{MappingBehaviour::endpoint_independent, FilteringBehaviour::address_dependent}},
        {"port-restricted", NatConfig::port_restricted()},
        {"symmetric", NatConfig::symmetric()},
    };
    for (const Kind& k : kinds) {
        CAPTURE(k.name);
        Swarm s(11);
        s.add_vpn();
        SimRelay& r = s.add_relay();
        SimNat* nat = k.nat ? &s.add_nat(*k.nat) : nullptr;
        SimClient& c = s.add_client({}, nat);
        c.start();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        CHECK(c.saw_event("found 1 relay(s) in the directory"));
        CHECK(c.saw_event("public address learned"));
        CHECK(r.engine().intake(RelayEngine::Intake::accepted) == 1);
        CHECK(r.engine().session_count() == 1);
        // Both ends validated the other's public address.
        Endpoint pub = public_of(s, c, r);
        CHECK(relay_holds(r, pub));
        REQUIRE(c.engine().session());
        CHECK(*c.engine().session()->peer() == r.endpoint());
        CHECK(c.engine().session()->reflexive() == pub);
        CHECK(c.engine().session()->rtt().has_value());
        CHECK(r.vpn_sockets_open() == 1);  // opened once the client's address validated
        // Behind a NAT the client also offered its private host address: refused by the policy.
        CHECK(r.saw_event("candidate(s) refused by the endpoint policy") == (nat != nullptr));
    }
}

TEST_CASE("swarm: punching survives loss, delay and jitter") {
    Swarm s(12, DhtParams{200ms, 300ms, 400ms, 0.0, 0.0});
    s.add_vpn();
    SimRelay& r = s.add_relay({}, LinkParams{40ms, 30ms, 0.15});
    SimNat& nat = s.add_nat(NatConfig::port_restricted());
    SimClient& c = s.add_client({}, &nat, LinkParams{30ms, 20ms, 0.15});
    c.start();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    CHECK(c.step() == Step::connected);
    CHECK(s.net.lost() > 0);
    CHECK(relay_holds(r, public_of(s, c, r)));
    s.run_for(20s);  // keepalives measure the RTT if the first PING or PONG was lost
    auto rtt = c.engine().session()->rtt();
    REQUIRE(rtt);
    CHECK(*rtt >= 140ms);  // both links, both ways: at least 2 x (40 + 30) ms
}

TEST_CASE("swarm: forwarding: the client's WireGuard reaches the VPN through the relay and back") {
    Swarm s(13);
    SimWireGuardServer& vpn = s.add_vpn();
    SimRelay& r = s.add_relay();
    SimNat& nat = s.add_nat(NatConfig::symmetric());
    SimClient& c = s.add_client({}, &nat);
    c.start();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    REQUIRE(c.step() == Step::connected);

    wireguard_round_trip(s, c, 20);
    CHECK(vpn.initiations() == 1);
    CHECK(vpn.responses() == 1);
    CHECK(vpn.transport_in() == 20);
    // The VPN sees the relay's address, never the client's.
    REQUIRE(vpn.last_peer());
    CHECK(vpn.last_peer()->ip_string() == r.endpoint().ip_string());
    CHECK_FALSE(vpn.last_peer()->ip_string() == nat.public_ip());
    CHECK(c.engine().local_peer() == SimClient::local_wireguard_address());
    CHECK(c.engine().counters().wg_to_relay == 21);
    CHECK(c.engine().counters().wg_from_relay == 21);
    CHECK(c.wireguard().unexpected() == 0);
    // The relay's gate saw the handshake answered on the client's index.
    auto id = r.engine().session_ids().at(0);
    CHECK(r.engine().session(id)->gate.closed() == false);
}

TEST_CASE("swarm: refusal: a VPN endpoint the relay's policy forbids ends the client with the reason") {
    Swarm s(14);
    SimRelay& r = s.add_relay();
    SimNat& nat = s.add_nat(NatConfig::port_restricted());
    ClientEngineConfig cfg;
    cfg.vpn = *Endpoint::parse("10.1.2.3:51820");  // private: refused by every relay
    SimClient& c = s.add_client(cfg, &nat);
    c.start();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    CHECK(c.step() == Step::failed);
    REQUIRE(c.gave_up_why());
    CHECK(c.gave_up_why()->find("failed at step 'rendezvous'") != std::string::npos);
    CHECK(r.engine().intake(RelayEngine::Intake::refused) == 1);
    CHECK(r.saw_event("rendezvous refused"));
    CHECK(r.engine().session_count() == 0);
    CHECK(r.vpn_opened() == 0);
    // Loopback, the relay's own address: refused the same way.
    for (const std::string& vpn : {std::string("127.0.0.1:51820"), r.endpoint().to_string()}) {
        CAPTURE(vpn);
        ClientEngineConfig c2;
        c2.vpn = *Endpoint::parse(vpn);
        SimClient& other = s.add_client(c2, &s.add_nat(NatConfig::port_restricted()));
        other.start();
        REQUIRE(s.run_until([&] { return settled(other); }, 30s));
        CHECK(other.step() == Step::failed);
    }
    CHECK(r.engine().intake(RelayEngine::Intake::refused) == 3);
    CHECK(r.vpn_opened() == 0);
}

TEST_CASE("swarm: relay full: the client is refused and asks another relay") {
    Swarm s(15);
    s.add_vpn();
    RelayEngineConfig small;
    small.capacity = 1;
    SimRelay& a = s.add_relay(small);
    SimClient& first = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    first.start();
    REQUIRE(s.run_until([&] { return settled(first); }, 30s));
    REQUIRE(first.step() == Step::connected);

    SimClient& second = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    second.start();
    REQUIRE(s.run_until([&] { return second.saw_event("refused"); }, 20s));
    CHECK(second.saw_event("asking others"));
    CHECK(a.engine().intake(RelayEngine::Intake::refused) >= 1);
    CHECK(second.step() == Step::rendezvous);  // not failed: another relay may have room

    SimRelay& b = s.add_relay();
    REQUIRE(s.run_until([&] { return settled(second); }, 30s));
    CHECK(second.step() == Step::connected);
    CHECK(relay_of(s, second) == &b);
    CHECK(relay_of(s, first) == &a);
    CHECK(a.engine().session_count() == 1);
    CHECK(first.step() == Step::connected);
}

TEST_CASE("swarm: relay silent: the client stops waiting for it and moves on") {
    Swarm s(16);
    s.add_vpn();
    s.add_reflector();  // a DHT peer that is no relay: the client still learns its address
    SimRelay& a = s.add_relay();
    s.run_for(2s);  // its presence record is in the DHT...
    a.set_silent(true);  // ...and then it stops answering
    SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    c.start();
    REQUIRE(s.run_until([&] { return c.saw_event("no answer from relay"); }, 15s));
    CHECK(c.step() == Step::rendezvous);
    REQUIRE(c.engine().choice());
    CHECK(c.engine().choice()->silent() >= 1);

    SimRelay& b = s.add_relay();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    CHECK(c.step() == Step::connected);
    CHECK(relay_of(s, c) == &b);
    CHECK(a.engine().session_count() == 0);
}

TEST_CASE("swarm: back-edge: a relay whose record names no usable address is never asked; another is") {
    Swarm s(29);
    s.add_vpn();
    SimRelay& a = s.add_relay();
    a.set_candidate_override(*Endpoint::parse("10.9.9.9:4500"));  // private: the client sends no hello there
    SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    c.start();
    s.run_for(5s);
    CHECK(c.step() == Step::rendezvous);
    CHECK(c.engine().counters().relays_unreachable >= 1);
    CHECK(c.engine().counters().hellos_sent == 0);
    CHECK(a.engine().intake(RelayEngine::Intake::accepted) == 0);
    SimRelay& b = s.add_relay();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    CHECK(c.step() == Step::connected);
    CHECK(relay_of(s, c) == &b);
}

TEST_CASE("swarm: back-edge: a relay that vanishes after its answer fails the client at 'punching'") {
    Swarm s(20);
    s.add_vpn();
    SimRelay& r = s.add_relay();
    ClientEngineConfig cfg;
    cfg.timers.punch_timeout = 6s;
    SimClient& c = s.add_client(cfg, &s.add_nat(NatConfig::port_restricted()));
    c.start();
    REQUIRE(s.run_until([&] { return c.step() == Step::punching; }, 20s));
    r.set_silent(true);
    REQUIRE(s.run_until([&] { return settled(c); }, 40s));
    CHECK(c.step() == Step::failed);
    REQUIRE(c.gave_up_why());
    CHECK(c.gave_up_why()->find("failed at step 'punching'") != std::string::npos);
    CHECK(c.gave_up_why()->find("no path validated") != std::string::npos);
    CHECK(c.saw_event("answer received; punching"));
    // When the relay comes back its side of it has failed too, and is reaped with its slot.
    r.set_silent(false);
    s.run_for(30s);
    CHECK(r.engine().session_count() == 0);
    CHECK(r.engine().admission().pending() == 0);
    CHECK(r.vpn_opened() == 0);
}

TEST_CASE("swarm: a relay whose record names an address nobody listens on gets hellos nowhere; another is used") {
    // The answer comes back only to a hello: a relay that cannot be reached at its record's
    // address (moved, or a fake record naming someone else) answers nothing, and the client's
    // hellos there stay within their schedule.
    Swarm s(25);
    s.add_vpn();
    SimRelay& r = s.add_relay();
    r.set_candidate_override(*Endpoint::parse("203.0.113.99:4500"));
    size_t hello_bytes = 0;
    SimSocket& nobody = s.net.bind("203.0.113.99:4500", [&](const Endpoint&, ByteView d) { hello_bytes += d.size(); });
    (void)nobody;
    SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    c.start();
    s.run_for(8s);
    CHECK(c.step() == Step::rendezvous);
    CHECK(r.engine().intake(RelayEngine::Intake::accepted) >= 1);  // the offer reached it through the inbox
    CHECK(r.engine().answers_sent() == 0);
    const size_t offers = r.engine().intake(RelayEngine::Intake::accepted);
    MESSAGE(offers << " offer(s) to a relay at a wrong address: " << hello_bytes << " B of hellos reached that address");
    CHECK(hello_bytes > 0);
    CHECK(hello_bytes <= offers * kHelloSchedule.size() * kRendezvousHelloSize);
    SimRelay& b = s.add_relay();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    CHECK(c.step() == Step::connected);
    CHECK(relay_of(s, c) == &b);
}

TEST_CASE("swarm: back-edge: a connected client that loses its session begins a new attempt") {
    SUBCASE("the relay closes it") {
        Swarm s(21);
        s.add_vpn();
        SimRelay& r = s.add_relay();
        SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        wireguard_round_trip(s, c, 3);
        r.shutdown();
        REQUIRE(s.run_until([&] { return c.saw_event("failed at step 'session'"); }, 5s));
        CHECK_FALSE(c.gave_up_why());  // not final: it had been connected
        CHECK(c.engine().attempts() == 2);
        REQUIRE(s.run_until([&] { return c.step() == Step::connected; }, 30s));
        CHECK(r.engine().session_count() == 1);  // the same relay took it again
        wireguard_round_trip(s, c, 3);           // WireGuard handshakes again through the new session
    }
    SUBCASE("the relay goes silent") {
        Swarm s(22);
        s.add_vpn();
        s.add_reflector();
        s.add_relay();
        ClientEngineConfig cfg;
        cfg.standby = 0;  // no standby to move to: a new attempt (tests/sim/test_failover.cpp has standbys)
        SimClient& c = s.add_client(cfg, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        SimRelay* first = relay_of(s, c);
        SimRelay& other = s.add_relay();
        s.run_for(2s);
        first->set_silent(true);
        auto t0 = s.events.now();
        REQUIRE(s.run_until([&] { return c.saw_event("failed at step 'session'"); }, 40s));
        CHECK(s.events.now() - t0 >= 15s);  // keepalives unanswered for the session's dead time
        CHECK(c.engine().attempts() == 2);
        REQUIRE(s.run_until([&] { return c.step() == Step::connected; }, 30s));
        CHECK(relay_of(s, c) == &other);
        wireguard_round_trip(s, c, 3);
    }
}

TEST_CASE("swarm: a NAT rebinding under a connected client is followed by the relay, no new attempt") {
    Swarm s(23);
    s.add_vpn();
    SimRelay& r = s.add_relay();
    SimNat& nat = s.add_nat(NatConfig::port_restricted());
    SimClient& c = s.add_client({}, &nat);
    c.start();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    REQUIRE(c.step() == Step::connected);
    Endpoint before = public_of(s, c, r);
    nat.rebind(c.socket().local());
    s.run_for(12s);  // the next keepalive leaves from a new public port
    Endpoint after = public_of(s, c, r);
    CHECK_FALSE(after == before);
    CHECK(relay_holds(r, after));
    auto id = r.engine().session_ids().at(0);
    CHECK(r.engine().session(id)->session.rebinds() == 1);
    CHECK(c.step() == Step::connected);
    CHECK(c.engine().attempts() == 1);
    wireguard_round_trip(s, c, 5);
}

TEST_CASE("swarm: N relays and M clients behind assorted NATs all connect and carry WireGuard") {
    Swarm s(24, DhtParams{100ms, 100ms, 200ms, 0.0, 0.0});
    SimWireGuardServer& vpn = s.add_vpn();
    for (int i = 0; i < 5; ++i) s.add_relay();
    const NatConfig kinds[] = {NatConfig::full_cone(), NatConfig::port_restricted(), NatConfig::symmetric(),
                               {MappingBehaviour::endpoint_independent, FilteringBehaviour::address_dependent}};
    for (int i = 0; i < 20; ++i) s.add_client({}, i % 5 == 4 ? nullptr : &s.add_nat(kinds[i % 4]), LinkParams{10ms, 10ms, 0.01});
    for (auto& c : s.clients) c->start();
    REQUIRE(s.run_until(
        [&] {
            for (auto& c : s.clients)
                if (!settled(*c)) return false;
            return true;
        },
        40s));
    s.run_for(5s);  // a client may validate the relay before the relay has validated it
    // Offers go to several relays at once; the first answer becomes the active session, the
    // next one a standby (one each, the default); other relays keep a pending session until
    // its punch times out.
    size_t established = 0, started = 0;
    for (auto& r : s.relays) {
        established += r->engine().admission().established();
        started += r->engine().intake(RelayEngine::Intake::accepted);
    }
    CHECK(established == 40);
    for (auto& c : s.clients) CHECK(c->engine().standbys().size() == 1);
    if (established != 40)
        for (auto& c : s.clients) {
            SimRelay* r = relay_of(s, *c);
            if (r && !relay_holds(*r, public_of(s, *c, *r))) explain(s, *c);
        }
    MESSAGE("20 clients, 5 relays: " << started << " offers accepted for 20 active and 20 standby sessions");
    for (auto& c : s.clients) CHECK(c->step() == Step::connected);
    // WireGuard retries a handshake that got no response (REKEY_TIMEOUT, 5 s).
    for (int attempt = 0; attempt < 3; ++attempt) {
        for (auto& c : s.clients)
            if (!c->wireguard().has_keypair()) c->wireguard().send_initiation();
        s.run_for(5s);
    }
    for (auto& c : s.clients) {
        if (!c->wireguard().has_keypair()) explain(s, *c);
        REQUIRE(c->wireguard().has_keypair());
    }
    // Five data packets per client, 200 ms apart: an echo crosses the client's link twice (1%
    // loss each way), so about 2% are lost; one packet per client left a single seed's three
    // losses to decide the case.
    for (int k = 0; k < 5; ++k) {
        for (auto& c : s.clients) c->wireguard().send_data(200);
        s.run_for(200ms);
    }
    s.run_for(2s);
    uint64_t echoes = 0;
    for (auto& c : s.clients) echoes += c->wireguard().echoes();
    MESSAGE(echoes << " of 100 data packets echoed");
    CHECK(echoes >= 90);
    CHECK(vpn.keypairs() >= 20);
    s.run_for(30s);
    size_t sessions = 0;
    for (auto& r : s.relays) sessions += r->engine().session_count();
    CHECK(sessions == 40);
}

TEST_CASE("swarm: a NAT whose mappings expire between keepalives: each new port is validated and followed") {
    Swarm s(26);
    s.add_vpn();
    SimRelay& r = s.add_relay();
    NatConfig cfg = NatConfig::port_restricted();
    cfg.mapping_timeout = 3s;  // shorter than the 5 s keepalive
    SimNat& nat = s.add_nat(cfg);
    SimClient& c = s.add_client({}, &nat);
    c.start();
    REQUIRE(s.run_until([&] { return settled(c); }, 30s));
    REQUIRE(c.step() == Step::connected);
    auto id = r.engine().session_ids().at(0);
    s.run_for(30s);
    CHECK(nat.mappings_expired() >= 3);
    CHECK(r.engine().session(id)->session.rebinds() >= 3);
    CHECK(r.engine().session(id)->session.state() == SessionState::established);
    CHECK(c.step() == Step::connected);
    CHECK(c.engine().attempts() == 1);
    // Traffic keeps the mapping: WireGuard goes through on the latest port.
    wireguard_round_trip(s, c, 5);
    CHECK(relay_holds(r, public_of(s, c, r)));
}

TEST_CASE("swarm: rendezvous over a slow, lossy DHT still connects, by asking more relays") {
    DhtParams lossy;
    lossy.put_delay = 300ms;
    lossy.delivery_delay = 300ms;
    lossy.jitter = 700ms;
    lossy.put_loss = 0.1;
    lossy.delivery_loss = 0.1;
    Swarm s(27, lossy);
    s.add_vpn();
    RelayEngineConfig often;
    often.presence_ttl_s = 30;  // re-published every 10 s
    for (int i = 0; i < 6; ++i) s.add_relay(often);
    std::vector<SimClient*> cs;
    for (int i = 0; i < 6; ++i) cs.push_back(&s.add_client({}, &s.add_nat(NatConfig::port_restricted())));
    s.run_for(15s);  // presence records are re-published until they get through
    for (auto* c : cs) c->start();
    REQUIRE(s.run_until(
        [&] {
            for (auto* c : cs)
                if (!settled(*c)) return false;
            return true;
        },
        60s));
    for (auto* c : cs) {
        CHECK(c->step() == Step::connected);
        if (c->step() != Step::connected) explain(s, *c);
    }
    CHECK(s.dht.puts_lost() > 0);
    CHECK(s.dht.deliveries_lost() > 0);
}

// The relay refuses the second session when it validates (capacity) and sends CLOSE with code 2;
// the loser, in step `punching`, goes back to asking relays (here only the full one, which
// refuses it) until its attempt's timeout, and fails.
TEST_CASE("swarm: two clients race for a relay's last slot: the loser is refused at validation and not left punching") {
    Swarm s(28);
    s.add_vpn();
    RelayEngineConfig one;
    one.capacity = 1;
    SimRelay& r = s.add_relay(one);
    SimClient& a = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    SimClient& b = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    a.start();
    b.start();
    // Both offers arrive while nothing is established: both are accepted, one validates first.
    REQUIRE(s.run_until([&] { return r.engine().intake(RelayEngine::Intake::refused_at_validation) == 1; }, 20s));
    CHECK(r.engine().intake(RelayEngine::Intake::accepted) == 2);
    s.run_for(120s);
    CHECK(r.engine().admission().established() == 1);
    CHECK(r.engine().session_count() == 1);
    // One is connected; the other learned of the refusal (CLOSE with the code). If the CLOSE came
    // while it was punching, it failed (never connected before); if its own probe was answered
    // first, it counted itself connected for a moment and, as a client that was connected, keeps
    // asking (refused: full). Either way it is not left punching.
    REQUIRE((a.step() == Step::connected) != (b.step() == Step::connected));
    SimClient& loser = a.step() == Step::connected ? b : a;
    if (loser.engine().session())
        MESSAGE("the refused client's session: " << std::string(pave::to_string(loser.engine().session()->state()))
                                                 << ", close reason " << int(loser.engine().session()->peer_close_reason()));
    CHECK((loser.step() == Step::failed || loser.step() == Step::rendezvous));
    CHECK((loser.saw_event("refused at validation") || loser.saw_event("peer closed the session (reason 2)")));
}

TEST_CASE("swarm: a hundred presence records naming one victim network get it no more than the client's hello budget") {
    // Relay keys are free and a record names its endpoints itself: 100 Sybil records all give
    // a victim's address, or each a different address of the victim's /24. Clients looking for
    // a relay send that network at most two whole hello schedules, then two hellos a second,
    // however many records name it.
    for (const bool one_address : {true, false}) {
        CAPTURE(one_address);
        Swarm s(41);
        s.add_vpn();
        size_t to_victim = 0;
        std::vector<SimSocket*> victims;
        for (int i = 0; i < 100; ++i) {
            const Endpoint at = *Endpoint::parse("192.0.2." + std::to_string(one_address ? 250 : 100 + i) + ":4500");
            s.add_relay().set_candidate_override(at);
            if (one_address && i > 0) continue;
            victims.push_back(&s.net.bind(at.to_string(), [&](const Endpoint&, ByteView d) { to_victim += d.size(); }));
        }
        ClientEngineConfig cfg;
        cfg.timeout = 60s;
        SimClient& c = s.add_client(cfg, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        const double seconds = 60;
        s.run_for(60s);
        const auto& k = c.engine().counters();
        const double bound = (kHelloDestinationBurst + kHelloDestinationRate * seconds) * kRendezvousHelloSize;
        const std::string named = one_address ? "one victim address" : "100 addresses of one /24";
        MESSAGE("100 records naming " << named
                                      << ", one client looking for " << seconds << " s: " << to_victim
                                      << " B of hellos reached it (" << k.hellos_sent << " hellos sent, " << k.hellos_limited
                                      << " held back; bound " << bound << " B)");
        CHECK(to_victim > 0);
        CHECK(double(to_victim) <= bound);
        CHECK(k.hellos_limited > 0);
    }
}

TEST_CASE("swarm: offers that name a victim as their only candidate get it no more than the probe budgets") {
    Swarm s(30);
    SimWireGuardServer& vpn = s.add_vpn();
    SimRelay& r = s.add_relay();
    // The attacker reads the relay's presence record like any client.
    std::optional<PresenceRecord> rec;
    s.dht.listen(relay_directory_key(r.engine().bucket(), 0), [&](SimDht::Token, const DhtKey&, const std::vector<Bytes>& vs, bool) {
        for (const auto& v : vs)
            if (auto p = decode_and_verify_presence(v); p.record) rec = p.record;
    });
    s.run_for(2s);
    REQUIRE(rec);
    size_t to_victim = 0;
    SimSocket& victim = s.net.bind("198.51.100.250:9999", [&](const Endpoint&, ByteView d) { to_victim += d.size(); });
    auto offer_naming_victim = [&] {
        Offer o;
        random_bytes(o.session_id);
        o.client_share = X25519Key::generate().pub;
        o.candidates = {victim.local()};
        o.vpn = vpn.endpoint();
        o.timestamp_ms = rendezvous_timestamp_now(s.now().unix_ms);
        auto sealed = seal_offer(o, rec->inbox_pub, r.node_pub(), rec->period);
        REQUIRE(sealed);
        s.dht.put(inbox_shard_key(0, rec->period_secs, rec->period), sealed->value);
    };
    const size_t credit = RelayEngineConfig{}.timers.punch_credit;

    offer_naming_victim();
    s.run_for(30s);
    MESSAGE("one offer naming a silent victim: " << to_victim << " B sent to it (punch credit " << credit << " B)");
    CHECK(to_victim > 0);
    CHECK(to_victim <= credit);
    CHECK(r.engine().intake(RelayEngine::Intake::accepted) == 1);

    // 100 offers over 20 s: the relay's per-destination limiter bounds the total.
    to_victim = 0;
    for (int i = 0; i < 100; ++i) {
        offer_naming_victim();
        s.run_for(200ms);
    }
    s.run_for(30s);
    double seconds = 20 + 30;
    MESSAGE("100 offers in 20 s naming one victim: " << to_victim << " B sent to it in " << seconds << " s (without the limiter up to "
                                                     << 100 * credit << " B)");
    CHECK(to_victim <= ProbeLimiter::kDefaultBurstBytes + ProbeLimiter::kDefaultRateBytes * seconds);
    CHECK(r.engine().probe_limiter().refused() > 0);
    CHECK(r.vpn_opened() == 0);  // nothing validated, no socket towards the VPN
    CHECK(vpn.initiations() == 0);
    CHECK(r.engine().session_count() == 0);  // every punch timed out and was reaped
}

TEST_CASE("swarm: one seed replays exactly, the engines' own randomness included") {
    // Three relays and a client behind a port-restricted NAT: which relay it picks, the session's
    // connection id and the time it connected all come from the seed.
    auto run = [](uint64_t seed) {
        Swarm s(seed);
        s.add_vpn();
        for (int i = 0; i < 3; ++i) s.add_relay();
        SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
        c.start();
        REQUIRE(s.run_until([&] { return settled(c); }, 30s));
        REQUIRE(c.step() == Step::connected);
        REQUIRE(c.engine().session());
        return std::make_tuple(c.engine().session()->conn_id(), c.engine().session()->peer()->to_string(),
                               s.now().mono.time_since_epoch().count());
    };
    auto a = run(77), b = run(77), other = run(78);
    CHECK(a == b);
    CHECK(std::get<0>(a) != std::get<0>(other));
}

TEST_CASE("swarm: no DHT key sees a client and the relay of its session, beyond the directory and keys every relay touches") {
    // What a storer of any key learns, whoever runs it: the requests (put, announce, listen,
    // get) and their sources. A session's pairing would leak if some key saw the client and its
    // relay while the relays seen there were not all of them (then the key narrows the client's
    // relay down) and the key were not a directory key (every client reads every bucket: a read
    // there says nothing about the choice, and that a relay is in a bucket is public). Per-session
    // answer keys (the client listened, the relay put) were exactly such keys.
    Swarm s(31, DhtParams{100ms, 100ms, 200ms, 0.0, 0.0});
    s.add_vpn();
    for (int i = 0; i < 5; ++i) s.add_relay();
    for (int i = 0; i < 12; ++i) s.add_client({}, i % 3 == 2 ? nullptr : &s.add_nat(NatConfig::port_restricted()));
    std::map<DhtKey, std::set<std::string>> seen;  // key -> every requester
    std::map<DhtKey, unsigned> client_puts;
    s.dht.on_request = [&](SimDht::Op op, const DhtKey& k, const std::string& who) {
        seen[k].insert(who);
        for (auto& c : s.clients)
            if (op == SimDht::Op::put && c->socket().local().to_string() == who) ++client_puts[k];
    };
    for (auto& c : s.clients) c->start();
    REQUIRE(s.run_until(
        [&] {
            for (auto& c : s.clients)
                if (!settled(*c)) return false;
            return true;
        },
        40s));
    s.dht.on_request = nullptr;  // what it captures dies before the swarm
    std::set<std::string> relays, clients;
    for (auto& r : s.relays) relays.insert(r->endpoint().to_string());
    for (auto& c : s.clients) clients.insert(c->socket().local().to_string());
    std::set<DhtKey> directory;
    for (unsigned b = 0; b < kRelayBuckets; ++b)
        for (unsigned r = 0; r < kBucketReplicas; ++r) directory.insert(relay_directory_key(b, r));
    size_t pairs = 0, sessions = 0, keys_with_client = 0;
    for (auto& c : s.clients) {
        SimRelay* r = relay_of(s, *c);
        REQUIRE(r);
        ++sessions;
        for (const auto& [k, who] : seen) {
            if (!who.count(c->socket().local().to_string())) continue;
            ++keys_with_client;
            if (!who.count(r->endpoint().to_string())) continue;
            std::set<std::string> relays_here, clients_here;
            for (const auto& w : who) (relays.count(w) ? relays_here : clients_here).insert(w);
            if (relays_here != relays && !directory.count(k)) ++pairs;
        }
    }
    unsigned offers = 0;
    for (const auto& [k, n] : client_puts) {
        offers += n;
        CHECK(seen[k].size() >= relays.size());  // an offer's key: every relay listens there
        for (const auto& r : relays) CHECK(seen[k].count(r));
    }
    MESSAGE(sessions << " sessions, " << offers << " offers on " << client_puts.size() << " inbox keys, " << seen.size()
                     << " keys in all, " << keys_with_client << " (client, key) contacts: " << pairs
                     << " keys pair a client with its relay");
    CHECK(pairs == 0);
    CHECK(offers >= sessions);
}

TEST_CASE("swarm: control frames of 20 sessions show no byte constant at a fixed offset beyond the demultiplexing byte") {
    // A DPI box that keeps the first frames of many PAVE sessions: at each offset of frames of
    // one size, does any byte value repeat in every session? Only the first byte may (it is the
    // demultiplexing rule, relay/wire/demux.h). Without header protection, the counter (0 in a
    // session's first frame) made bytes 9..16 constant.
    Swarm s(33, DhtParams{100ms, 100ms, 100ms, 0.0, 0.0});
    s.add_vpn();
    for (int i = 0; i < 4; ++i) s.add_relay();
    for (int i = 0; i < 20; ++i) s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    // The first control frame of each size class each session sent, by direction and by conn id.
    std::map<std::pair<std::string, size_t>, Bytes> first;  // (conn id + direction, size) -> frame
    std::set<Endpoint, bool (*)(const Endpoint&, const Endpoint&)> relay_eps(
        [](const Endpoint& a, const Endpoint& b) { return a.to_string() < b.to_string(); });
    for (auto& r : s.relays) relay_eps.insert(r->endpoint());
    s.net.tap = [&](const Endpoint& from, const Endpoint&, ByteView d) {
        if (classify(d) != PacketKind::control) return;
        const std::string dir = relay_eps.count(from) ? "r" : "c";
        auto key = std::make_pair(to_hex(d.subspan(1, 8)) + dir, d.size());
        if (!first.count(key)) first[key] = Bytes(d.begin(), d.end());
    };
    for (auto& c : s.clients) c->start();
    REQUIRE(s.run_until(
        [&] {
            for (auto& c : s.clients)
                if (!settled(*c)) return false;
            return true;
        },
        60s));
    s.run_for(3s);
    s.net.tap = nullptr;  // what it captures dies before the swarm, whose sessions still send CLOSE
    std::map<std::pair<std::string, size_t>, std::vector<Bytes>> groups;  // (direction, size) -> frames
    for (const auto& [key, frame] : first) groups[{key.first.substr(16), key.second}].push_back(frame);
    size_t compared = 0;
    for (const auto& [g, frames] : groups) {
        if (frames.size() < 20) continue;  // only groups seen in at least 20 sessions
        ++compared;
        for (const auto& f : frames) CHECK(f.size() == g.second);
        for (size_t off = 0; off < g.second; ++off) {
            bool constant = true;
            for (const auto& f : frames) constant = constant && f[off] == frames[0][off];
            INFO("direction " << g.first << ", size " << g.second << ", offset " << off);
            if (off == 0) CHECK(constant);  // kControlFrameByte
            else CHECK_FALSE(constant);
        }
        MESSAGE("direction " << (g.first == "r" ? "relay->client" : "client->relay") << ", " << g.second << "-byte frames of "
                             << frames.size() << " sessions: only byte 0 is the same in all");
    }
    CHECK(compared >= 2);  // both directions at least
    std::set<size_t> sizes;
    for (const auto& [key, frame] : first) sizes.insert(key.second);
    for (size_t n : sizes) CHECK(is_frame_size_class(n));
}

TEST_CASE("swarm: the answer comes one round trip after the relay takes the offer, not at the next hello of the schedule") {
    // The DHT delivers the offer 330 ms after the put: between the hellos at 250 and 500 ms.
    // The relay's first punch probe reaches the client, which sends a hello at once.
    Swarm s(41, DhtParams{std::chrono::milliseconds(30), std::chrono::milliseconds(300), std::chrono::milliseconds(0), 0.0, 0.0});
    s.add_vpn();
    SimRelay& r = s.add_relay();
    SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    c.start();
    REQUIRE(s.run_until([&] { return c.engine().offers_waiting() > 0; }, 10s));
    const auto put_at = s.now().mono;
    REQUIRE(s.run_until([&] { return c.step() == Step::punching || c.step() == Step::connected; }, 10s));
    const auto took = s.now().mono - put_at;
    MESSAGE("offer put to answer: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took >= std::chrono::milliseconds(330));
    CHECK(took < std::chrono::milliseconds(330 + 40));  // the DHT, then a few 5 ms links; the next hello is at 500 ms
    CHECK(c.engine().counters().hellos_on_contact >= 1);
    CHECK(r.engine().intake(RelayEngine::Intake::accepted) >= 1);
    REQUIRE(s.run_until([&] { return settled(c); }, 10s));
    CHECK(c.step() == Step::connected);
}
