// Roaming in a simulated swarm: the client's host changes its own address (a new address in the
// same LAN behind the same NAT, which maps it afresh, or a move to another network behind
// another NAT), so every relay sees a new public address, which a relay behind a port-restricted
// NAT drops and a public relay can re-validate. Told at once (the node's address watch), the engine probes every path and
// recovers at once, under traffic or idle; left to find out from its paths, it does so only
// once data goes unanswered. An address change that leaves the paths working costs nothing.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

// A VPN, three relays, a client behind a port-restricted NAT, connected with `standby`
// standbys ready and WireGuard's handshake done.
struct World {
    Swarm s;
    SimWireGuardServer& vpn;
    SimNat& nat;
    SimClient& client;
    // restricted: the relays are behind port-restricted NATs (SimSocket::restrict_inbound), as
    // in the namespace lab, and a reflector on a public address answers STUN; otherwise the
    // relays are on public addresses.
    World(uint64_t seed, unsigned standby, bool restricted)
        : s(seed), vpn(s.add_vpn()), nat(s.add_nat(NatConfig::port_restricted())),
          client((add_relays(3, restricted), s.add_client(config(standby), &nat))) {
        client.start();
        REQUIRE(s.run_until([&] { return client.step() == Step::connected; }, 30s));
        REQUIRE(s.run_until([&] { return ready_standbys() >= standby; }, 10s));
        auto& wg = client.wireguard();
        wg.send_initiation();
        REQUIRE(s.run_until([&] { return wg.has_keypair(); }, 2s));
    }
    static ClientEngineConfig config(unsigned standby) {
        ClientEngineConfig c;
        c.standby = standby;
        return c;
    }
    void add_relays(int n, bool restricted) {
        if (restricted) s.add_reflector();
        for (int i = 0; i < n; ++i) {
            SimRelay& r = s.add_relay();
            if (restricted) r.socket().restrict_inbound();
        }
    }
    size_t ready_standbys() const {
        size_t n = 0;
        for (const auto& sb : client.engine().standbys()) n += sb.session->state() == SessionState::established ? 1 : 0;
        return n;
    }
    // The session socket's next address in its LAN (same port, host part + 10).
    Endpoint next_address() const {
        Endpoint e = client.socket().local();
        Bytes ip = e.ip_bytes();
        ip[3] = uint8_t(ip[3] + 10);
        return *Endpoint::from_ip_bytes(ip, e.port());
    }
    // Pings through the tunnel every 100 ms for `d`; the longest gap between echoes.
    Duration ping(Duration d, const std::function<void(Duration)>& at = {}) {
        auto& wg = client.wireguard();
        uint64_t echoes = wg.echoes();
        TimePoint last = s.events.now();
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
        return std::max(worst, s.events.now() - last);
    }
    // One packet through the tunnel: how long until its echo (at most `limit`).
    Duration first_echo(Duration limit) {
        auto& wg = client.wireguard();
        const uint64_t echoes = wg.echoes();
        const TimePoint t0 = s.events.now();
        wg.send_data(64);
        // WireGuard resends nothing by itself here: a packet a second, as a ping would.
        for (Duration t = 10ms; t <= limit; t += 10ms) {
            s.run_for(10ms);
            if (wg.echoes() != echoes) return s.events.now() - t0;
            if (t % 1s == Duration::zero()) wg.send_data(64);
        }
        return limit;
    }
};

double ms(Duration d) { return double(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) / 1000.0; }

}  // namespace

TEST_CASE("roaming: the client's own address changes under a 10/s ping; recovered within 2 s, keypair and all") {
    for (bool restricted : {true, false}) {
        for (uint64_t seed : {171, 172}) {
            for (bool notify : {true, false}) {
                CAPTURE(restricted);
                CAPTURE(seed);
                CAPTURE(notify);
                World w(seed, 1, restricted);
                SimClient& c = w.client;
                const uint64_t responses = w.vpn.responses();
                const unsigned attempts = c.engine().attempts();
                const auto relay = c.engine().relay()->node_pub;
                const Endpoint to = w.next_address();
                Duration gap = w.ping(5s, [&](Duration t) {
                    if (t == 500ms) c.move_address(to, notify);
                });
                MESSAGE(std::string(restricted ? "relays behind port-restricted NATs" : "relays on public addresses")
                        << ", seed " << seed << std::string(notify ? ", address watch" : ", no address watch")
                        << ": own address changed, longest gap " << ms(gap) << " ms; new attempts "
                        << c.engine().attempts() - attempts << ", failovers " << c.engine().counters().failovers);
                CHECK(gap <= 2s);
                CHECK(c.step() == Step::connected);
                CHECK(w.vpn.responses() == responses);  // no new WireGuard handshake was needed
                CHECK(c.engine().counters().address_changes == (notify ? 1u : 0u));
                CHECK(c.engine().backoff().size() == 0);  // no relay is blamed for our own move
                if (restricted) {
                    // The relays' NATs drop the new port: a new rendezvous, at once.
                    CHECK(c.engine().attempts() == attempts + 1);
                } else {
                    // A public relay re-validates the new address: the same relay, no rendezvous.
                    CHECK(c.engine().attempts() == attempts);
                    CHECK(c.engine().relay()->node_pub == relay);
                }
            }
        }
    }
}

TEST_CASE("roaming: the client moves to another network (another NAT, a new public address) under a 10/s ping") {
    for (bool restricted : {true, false}) {
        CAPTURE(restricted);
        World w(175, 1, restricted);
        SimClient& c = w.client;
        SimNat& other = w.s.add_nat(NatConfig::port_restricted());
        const uint64_t responses = w.vpn.responses();
        const unsigned attempts = c.engine().attempts();
        Duration gap = w.ping(5s, [&](Duration t) {
            if (t == 500ms) c.move_address(*Endpoint::parse("192.168.77.2:4600"), true, &other);
        });
        MESSAGE(std::string(restricted ? "relays behind port-restricted NATs" : "relays on public addresses")
                << ": moved to another network, longest gap " << ms(gap) << " ms; new attempts "
                << c.engine().attempts() - attempts);
        CHECK(gap <= 2s);
        CHECK(c.step() == Step::connected);
        CHECK(w.vpn.responses() == responses);
        CHECK(c.engine().backoff().size() == 0);
        CHECK(c.engine().attempts() == attempts + (restricted ? 1 : 0));
    }
}

TEST_CASE("roaming: an idle tunnel follows its own address change before WireGuard's next packet") {
    for (bool restricted : {true, false}) {
        for (unsigned standby : {1u, 0u}) {
            CAPTURE(restricted);
            CAPTURE(standby);
            Duration with{}, without{};
            for (bool notify : {true, false}) {
                CAPTURE(notify);
                World w(181 + standby, standby, restricted);
                SimClient& c = w.client;
                const unsigned attempts = c.engine().attempts();
                w.s.run_for(3s);  // idle
                c.move_address(w.next_address(), notify);
                w.s.run_for(restricted ? 3s : 500ms);  // still idle
                if (notify) {
                    CHECK(c.engine().attempts() == attempts + (restricted ? 1 : 0));
                    CHECK(c.step() == Step::connected);
                    CHECK(c.engine().backoff().size() == 0);
                } else {
                    CHECK(c.engine().attempts() == attempts);  // nothing told it yet
                }
                (notify ? with : without) = w.first_echo(10s);
                CHECK(c.step() == Step::connected);
            }
            MESSAGE(std::string(restricted ? "relays behind port-restricted NATs" : "relays on public addresses")
                    << ", standby " << standby << ": first packet after an idle address change answered in "
                    << ms(with) << " ms with the address watch, " << ms(without) << " ms without");
            CHECK(with <= 100ms);
            CHECK(without > with);
            CHECK(without < 10s);
        }
    }
}

TEST_CASE("roaming: an address change that leaves the paths working costs nothing") {
    World w(191, 1, true);
    SimClient& c = w.client;
    const unsigned attempts = c.engine().attempts();
    const auto relay = c.engine().relay()->node_pub;
    // Told of a change (say a container's bridge came up) while the socket's address stays.
    c.move_address(c.socket().local(), true);
    Duration gap = w.ping(3s);
    CHECK(gap <= 200ms);
    CHECK(c.engine().attempts() == attempts);
    CHECK(c.engine().counters().failovers == 0);
    CHECK(c.engine().relay()->node_pub == relay);
    CHECK(c.engine().counters().address_changes == 1);
    CHECK_FALSE(c.engine().watching());
}
