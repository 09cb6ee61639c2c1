// Standby relays and failover in a simulated swarm: the active relay killed (silent) or
// stopping (CLOSE) under a 10/s ping through the tunnel, the live WireGuard keypair moved to
// the standby relay without a new handshake, a lost standby replaced, full relays refused at
// intake and backed off from, a NAT rebinding under traffic.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

// A VPN, three relays, a client behind a port-restricted NAT, connected with a standby ready,
// WireGuard's handshake done through the active relay.
struct World {
    Swarm s;
    SimWireGuardServer& vpn;
    SimNat& nat;
    SimClient& client;
    explicit World(uint64_t seed, ClientEngineConfig cfg = {}, int relays = 3, LinkParams vpn_link = {})
        : s(seed), vpn(s.add_vpn(vpn_link)), nat(s.add_nat(NatConfig::port_restricted())),
          client((add_relays(relays), s.add_client(cfg, &nat))) {
        client.start();
        REQUIRE(s.run_until([&] { return client.step() == Step::connected; }, 30s));
        REQUIRE(s.run_until([&] { return ready_standbys() >= std::min<size_t>(cfg.standby, size_t(relays - 1)); }, 10s));
        auto& wg = client.wireguard();
        wg.send_initiation();
        REQUIRE(s.run_until([&] { return wg.has_keypair(); }, 2s));
    }
    void add_relays(int n) {
        for (int i = 0; i < n; ++i) s.add_relay();
    }
    size_t ready_standbys() const {
        size_t n = 0;
        for (const auto& sb : client.engine().standbys()) n += sb.session->state() == SessionState::established ? 1 : 0;
        return n;
    }
    SimRelay& active() {
        SimRelay* r = s.relay_by_key(client.engine().relay()->node_pub);
        REQUIRE(r);
        return *r;
    }
    // Pings through the tunnel every 100 ms for `d`; returns the longest gap between echoes.
    Duration ping(Duration d, const std::function<void(Duration)>& at = {}) {
        auto& wg = client.wireguard();
        uint64_t echoes = wg.echoes();
        TimePoint last = s.events.now(), start = last;
        Duration worst{};
        for (Duration t{}; t < d; t += 10ms) {
            if (t % 100ms == Duration::zero()) wg.send_data(64);
            if (at) at(t);
            s.run_for(10ms);
            if (wg.echoes() != echoes) {
                echoes = wg.echoes();
                worst = std::max(worst, s.events.now() - last);
                last = s.events.now();
            }
        }
        worst = std::max(worst, s.events.now() - last);
        (void)start;
        return worst;
    }
};

double ms(Duration d) { return double(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) / 1000.0; }

}  // namespace

TEST_CASE("failover: the active relay dies under a 10/s ping; the standby carries the same keypair within 1 s") {
    for (uint64_t seed : {101, 102, 103, 104, 105}) {
        CAPTURE(seed);
        World w(seed);
        SimClient& c = w.client;
        const uint64_t responses = w.vpn.responses();
        SimRelay& dead = w.active();
        const Ed25519Public standby = c.engine().standbys().at(0).relay.node_pub;
        CHECK(w.ping(1s) <= 150ms);
        Duration gap = w.ping(4s, [&](Duration t) {
            if (t == 500ms) dead.set_silent(true);  // kill -9
        });
        MESSAGE("seed " << seed << ": longest gap " << ms(gap) << " ms");
        CHECK(gap <= 1s);
        CHECK(c.engine().attempts() == 1);  // no new rendezvous
        CHECK(c.engine().counters().failovers == 1);
        REQUIRE(c.engine().relay());
        CHECK(c.engine().relay()->node_pub == standby);
        // Without a new handshake: the VPN answered none since.
        CHECK(w.vpn.responses() == responses);
        REQUIRE(c.engine().last_failover());
        CHECK(c.engine().last_failover()->keypair_moved);
        REQUIRE(c.engine().last_failover()->gap);
        CHECK(*c.engine().last_failover()->gap <= 1s);
        CHECK(c.engine().last_failover()->cause.find("relay silent") != std::string::npos);
        // The VPN's endpoint moved to the new relay's address, never the client's.
        SimRelay& now_active = w.active();
        REQUIRE(w.vpn.last_data_peer());
        CHECK(w.vpn.last_data_peer()->canonical_ip() == now_active.endpoint().canonical_ip());
        // The new relay's gate carried the keypair within its budget until the VPN answered on it.
        auto id = now_active.engine().session_ids();
        bool found = false;
        for (const auto& i : id) {
            auto v = now_active.engine().session(i);
            if (!v || !v->gate.unlocked_by_claim()) continue;
            found = true;
            CHECK(v->gate.claim_bytes() <= Gate::kClaimBudgetBytes);
        }
        CHECK(found);
        // A new standby is found in the background.
        REQUIRE(w.s.run_until([&] { return w.ready_standbys() == 1; }, 10s));
        CHECK(c.engine().standbys().at(0).relay.node_pub != dead.node_pub());
    }
}

TEST_CASE("failover: a relay that stops (CLOSE) is left at once; gap under 0.3 s") {
    World w(111, {}, 3, LinkParams{20ms, 5ms, 0.0});
    SimClient& c = w.client;
    SimRelay& stopping = w.active();
    uint64_t lost_in_flight = 0;
    SUBCASE("drained: the relay carries what is in flight for a moment after its CLOSE") {
        Duration gap = w.ping(3s, [&](Duration t) {
            if (t == 550ms) CHECK(stopping.drain());
            if (t == 850ms) stopping.shutdown();
        });
        lost_in_flight = c.wireguard().data_sent() - c.wireguard().echoes();
        MESSAGE("graceful stop (drained): longest gap " << ms(gap) << " ms, " << lost_in_flight << " ping(s) lost");
        CHECK(gap <= 200ms);
        CHECK(lost_in_flight == 0);
    }
    SUBCASE("at once") {
        Duration gap = w.ping(3s, [&](Duration t) {
            if (t == 550ms) stopping.shutdown();
        });
        MESSAGE("graceful stop (not drained): longest gap " << ms(gap) << " ms");
        CHECK(gap <= 300ms);
    }
    CHECK(c.engine().counters().failovers == 1);
    CHECK(c.engine().last_failover()->cause.find("peer closed") != std::string::npos);
    CHECK(c.engine().attempts() == 1);
}

TEST_CASE("failover: an idle tunnel is not probed; a lost standby is replaced in the background") {
    World w(121);
    SimClient& c = w.client;
    const Ed25519Public lost = c.engine().standbys().at(0).relay.node_pub;
    // The relay holds the standby (no WireGuard on it) past its 5-minute locked timeout while
    // the keepalives arrive.
    w.s.run_for(7min);
    CHECK(c.engine().counters().watch_probes == 0);
    CHECK(c.engine().counters().failovers == 0);
    CHECK(c.engine().counters().standbys_made == 1);
    REQUIRE(c.engine().standbys().size() == 1);
    CHECK(c.engine().standbys().at(0).relay.node_pub == lost);
    CHECK(w.ready_standbys() == 1);
    w.s.relay_by_key(lost)->set_silent(true);
    REQUIRE(w.s.run_until([&] { return c.engine().counters().standbys_lost == 1; }, 30s));
    REQUIRE(w.s.run_until([&] { return w.ready_standbys() == 1; }, 10s));
    CHECK(c.engine().standbys().at(0).relay.node_pub != lost);
    CHECK(c.engine().relay()->node_pub != lost);
    CHECK(c.step() == Step::connected);
    CHECK(c.engine().attempts() == 1);
}

TEST_CASE("failover: without a standby the client re-rendezvouses at once when the relay dies under traffic") {
    ClientEngineConfig cfg;
    cfg.standby = 0;
    World w(131, cfg, 2);
    SimClient& c = w.client;
    SimRelay& dead = w.active();
    w.ping(3s, [&](Duration t) {
        if (t == 500ms) dead.set_silent(true);
    });
    // Found dead within a second (not the session's 20 s), then a new rendezvous.
    CHECK(c.engine().attempts() == 2);
    CHECK(c.saw_event("relay silent"));
    REQUIRE(w.s.run_until([&] { return c.step() == Step::connected; }, 10s));
    CHECK(c.engine().relay()->node_pub != dead.node_pub());
}

TEST_CASE("failover: full relays refuse at intake with a reason, and the client backs off") {
    // Two relays that carry one session per client address; three clients behind one NAT.
    Swarm s(141);
    s.add_vpn();
    RelayEngineConfig rc;
    rc.per_client_ip = 1;
    s.add_relay(rc);
    s.add_relay(rc);
    SimNat& nat = s.add_nat(NatConfig::full_cone());
    std::vector<SimClient*> cs;
    ClientEngineConfig cfg;
    cfg.standby = 0;
    for (int i = 0; i < 3; ++i) cs.push_back(&s.add_client(cfg, &nat));
    cs[0]->start();
    REQUIRE(s.run_until([&] { return cs[0]->step() == Step::connected; }, 20s));
    s.run_for(1s);
    cs[1]->start();
    REQUIRE(s.run_until([&] { return cs[1]->step() == Step::connected; }, 20s));
    s.run_for(1s);
    cs[2]->start();
    s.run_for(25s);  // its attempt times out after 20 s
    // The third finds both full: refused at intake (never accepted and then closed), with the reason.
    CHECK(cs[2]->step() == Step::failed);
    CHECK(cs[2]->saw_event("too many sessions from this address"));
    uint64_t refused = 0, at_validation = 0;
    for (auto& r : s.relays) {
        refused += r->engine().intake(RelayEngine::Intake::refused);
        at_validation += r->engine().intake(RelayEngine::Intake::refused_at_validation);
    }
    CHECK(at_validation == 0);
    // Backoff: each full relay is asked again only after 2, 4, 8 s... not at the offer pace.
    MESSAGE("refusals in 25 s: " << refused);
    CHECK(refused <= 10);
    CHECK(cs[2]->engine().backoff().size() == 2);
}

TEST_CASE("failover: a NAT rebinding under a 10/s ping is recovered within 2 s, keypair and all") {
    for (uint64_t seed : {151, 152, 153}) {
        CAPTURE(seed);
        World w(seed);
        SimClient& c = w.client;
        const uint64_t responses = w.vpn.responses();
        Duration gap = w.ping(5s, [&](Duration t) {
            if (t == 500ms) w.nat.rebind(c.socket().local());  // conntrack flushed: a new public port
        });
        MESSAGE("seed " << seed << ": NAT rebinding, longest gap " << ms(gap) << " ms; failovers "
                        << c.engine().counters().failovers << ", attempts " << c.engine().attempts());
        CHECK(gap <= 2s);
        CHECK(c.step() == Step::connected);
        CHECK(w.vpn.responses() == responses);  // no new WireGuard handshake was needed
    }
}

TEST_CASE("failover: a relay that appears after the client connected becomes its standby") {
    Swarm s(161);
    s.add_vpn();
    s.add_relay();
    SimClient& c = s.add_client({}, &s.add_nat(NatConfig::port_restricted()));
    c.start();
    REQUIRE(s.run_until([&] { return c.step() == Step::connected; }, 30s));
    CHECK(c.engine().standbys().empty());
    SimRelay& later = s.add_relay();
    REQUIRE(s.run_until(
        [&] {
            for (const auto& sb : c.engine().standbys())
                if (sb.session->state() == SessionState::established) return true;
            return false;
        },
        30s));
    CHECK(c.engine().standbys().at(0).relay.node_pub == later.node_pub());
    MESSAGE("standby after " << c.engine().counters().directory_reads << " directory reads");
}
