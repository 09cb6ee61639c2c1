// The simulated network and its NATs: mapping, filtering, expiry and rebinding behave as
// RFC 4787 describes them, delay and loss are per link and seeded.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/sim/sim_network.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;

namespace {

Endpoint ep(const std::string& s) { return *Endpoint::parse(s); }

// A host behind a NAT and three public servers: S1, S2 on one address (two ports), S3 on another.
struct World {
    VirtualClock clock;
    EventQueue q{clock};
    SimRandom rng{1};
    SimNetwork net{q, rng};
    SimNat* nat = nullptr;
    SimSocket* host = nullptr;
    std::vector<SimSocket*> servers;
    std::vector<std::vector<Endpoint>> seen;  // per server: sources of what it received
    std::vector<Endpoint> host_got;           // sources of what the host received

    explicit World(NatConfig cfg) {
        nat = &net.add_nat("198.51.100.1", cfg);
        host = &net.bind("192.168.1.2:5000", [this](const Endpoint& from, ByteView) { host_got.push_back(from); }, {}, nat);
        seen.resize(3);
        for (int i = 0; i < 3; ++i) {
            std::string a = i < 2 ? "203.0.113.1:" + std::to_string(7000 + i) : "203.0.113.9:7000";
            servers.push_back(&net.bind(a, [this, i](const Endpoint& from, ByteView) { seen[i].push_back(from); }));
        }
    }
    void host_to(int server) {
        Bytes b{1, 2, 3};
        host->send(servers[server]->local(), b);
        q.run_for(100ms);
    }
    // Server answers to what it saw last; true if the host got it.
    bool server_reaches_host(int server, const Endpoint& to) {
        size_t before = host_got.size();
        Bytes b{4};
        servers[server]->send(to, b);
        q.run_for(100ms);
        return host_got.size() > before;
    }
};

}  // namespace

TEST_CASE("sim NAT: endpoint-independent mapping keeps one public port for every destination") {
    World w(NatConfig::full_cone());
    w.host_to(0);
    w.host_to(2);
    REQUIRE(w.seen[0].size() == 1);
    REQUIRE(w.seen[2].size() == 1);
    CHECK(w.seen[0][0] == w.seen[2][0]);
    CHECK(w.seen[0][0].ip_string() == "198.51.100.1");
    CHECK(w.nat->mappings_created() == 1);
}

TEST_CASE("sim NAT: endpoint-dependent (symmetric) mapping gives each destination its own port") {
    World w(NatConfig::symmetric());
    w.host_to(0);
    w.host_to(1);
    w.host_to(2);
    CHECK(w.seen[0][0].ip_string() == "198.51.100.1");
    CHECK(w.seen[0][0].port() != w.seen[1][0].port());
    CHECK(w.seen[0][0].port() != w.seen[2][0].port());
    CHECK(w.nat->mappings_created() == 3);
    // The port S3 observed (what a STUN server would report) is no use to S1.
    CHECK_FALSE(w.server_reaches_host(0, w.seen[2][0]));
    CHECK(w.server_reaches_host(0, w.seen[0][0]));
}

TEST_CASE("sim NAT: the three filtering behaviours") {
    SUBCASE("endpoint-independent: anyone may use the mapping") {
        World w(NatConfig::full_cone());
        w.host_to(0);
        CHECK(w.server_reaches_host(1, w.seen[0][0]));
        CHECK(w.server_reaches_host(2, w.seen[0][0]));
        CHECK(w.nat->dropped_filtered() == 0);
    }
    SUBCASE("address-dependent: any port of an address the host sent to") {
        World w({MappingBehaviour::endpoint_independent, FilteringBehaviour::address_dependent});
        w.host_to(0);
        CHECK(w.server_reaches_host(1, w.seen[0][0]));  // same IP, other port
        CHECK_FALSE(w.server_reaches_host(2, w.seen[0][0]));
        CHECK(w.nat->dropped_filtered() == 1);
    }
    SUBCASE("address-and-port-dependent: only the exact address and port") {
        World w(NatConfig::port_restricted());
        w.host_to(0);
        CHECK(w.server_reaches_host(0, w.seen[0][0]));
        CHECK_FALSE(w.server_reaches_host(1, w.seen[0][0]));
        CHECK_FALSE(w.server_reaches_host(2, w.seen[0][0]));
        CHECK(w.nat->dropped_filtered() == 2);
        w.host_to(2);  // now S3 may answer
        CHECK(w.server_reaches_host(2, w.seen[0][0]));
    }
    SUBCASE("no mapping: nothing gets in") {
        World w(NatConfig::full_cone());
        CHECK_FALSE(w.server_reaches_host(0, ep("198.51.100.1:30000")));
        CHECK(w.nat->dropped_no_mapping() == 1);
        CHECK(w.net.nat_dropped() == 1);
    }
}

TEST_CASE("sim NAT: an idle mapping expires; outbound traffic keeps it; the next one gets a new port") {
    NatConfig cfg = NatConfig::full_cone();
    cfg.mapping_timeout = 30s;
    World w(cfg);
    w.host_to(0);
    Endpoint first = w.seen[0][0];
    for (int i = 0; i < 4; ++i) {  // keepalives every 20 s: alive for 80 s
        w.q.run_for(20s);
        CHECK(w.server_reaches_host(0, first));
        w.host_to(0);
    }
    CHECK(w.seen[0].back() == first);
    // Inbound traffic alone does not refresh it (RFC 4787 REQ-6: outbound refresh).
    w.q.run_for(20s);
    CHECK(w.server_reaches_host(0, first));
    w.q.run_for(15s);
    CHECK_FALSE(w.server_reaches_host(0, first));
    CHECK(w.nat->mappings_expired() >= 1);
    CHECK(w.nat->live_mappings(w.q.now()) == 0);
    w.host_to(0);
    CHECK_FALSE(w.seen[0].back() == first);
    CHECK(w.seen[0].back().ip_string() == first.ip_string());
}

TEST_CASE("sim NAT: inbound refresh, when configured, keeps a mapping alive") {
    NatConfig cfg = NatConfig::full_cone();
    cfg.mapping_timeout = 30s;
    cfg.refresh_on_inbound = true;
    World w(cfg);
    w.host_to(0);
    for (int i = 0; i < 5; ++i) {
        w.q.run_for(20s);
        CHECK(w.server_reaches_host(0, w.seen[0][0]));
    }
}

TEST_CASE("sim NAT: rebinding on demand moves the host to a new public port") {
    World w(NatConfig::port_restricted());
    w.host_to(0);
    Endpoint before = w.seen[0][0];
    w.nat->rebind(w.host->local());
    CHECK_FALSE(w.server_reaches_host(0, before));
    w.host_to(0);
    CHECK(w.seen[0].back().ip_string() == before.ip_string());
    CHECK(w.seen[0].back().port() != before.port());
    CHECK(w.server_reaches_host(0, w.seen[0].back()));
}

TEST_CASE("sim NAT: two port-restricted cones punch through each other; two symmetric NATs cannot") {
    for (bool symmetric : {false, true}) {
        CAPTURE(symmetric);
        VirtualClock clock;
        EventQueue q(clock);
        SimRandom rng(5);
        SimNetwork net(q, rng);
        NatConfig cfg = symmetric ? NatConfig::symmetric() : NatConfig::port_restricted();
        SimNat& na = net.add_nat("198.51.100.1", cfg);
        SimNat& nb = net.add_nat("198.51.100.2", cfg);
        int a_got = 0, b_got = 0;
        SimSocket& a = net.bind("10.0.0.2:4000", [&](const Endpoint&, ByteView) { ++a_got; }, {}, &na);
        SimSocket& b = net.bind("10.0.0.2:4000", [&](const Endpoint&, ByteView) { ++b_got; }, {}, &nb);  // same private address
        SimSocket& stun = net.bind("203.0.113.50:3478");
        // Each learns its reflexive address from a third party, as STUN would tell it.
        Bytes x{9};
        a.send(stun.local(), x);
        b.send(stun.local(), x);
        q.run_for(50ms);
        Endpoint a_pub = *na.mapping_of(a.local(), stun.local(), q.now());
        Endpoint b_pub = *nb.mapping_of(b.local(), stun.local(), q.now());
        for (int i = 0; i < 5; ++i) {
            a.send(b_pub, x);
            b.send(a_pub, x);
            q.run_for(100ms);
        }
        if (symmetric) {
            CHECK(a_got == 0);
            CHECK(b_got == 0);
        } else {
            CHECK(a_got >= 4);  // the first one or two hit a closed filter
            CHECK(b_got >= 4);
        }
    }
}

TEST_CASE("sim network: private addresses, LAN and hairpin routing") {
    VirtualClock clock;
    EventQueue q(clock);
    SimRandom rng(2);
    SimNetwork net(q, rng);
    SimNat& nat = net.add_nat("198.51.100.1", NatConfig::full_cone());
    int lan_got = 0, pub_got = 0;
    SimSocket& a = net.bind("192.168.0.2:1000", {}, {}, &nat);
    net.bind("192.168.0.3:1000", [&](const Endpoint& from, ByteView) {
        ++lan_got;
        CHECK(from.ip_string() == "192.168.0.2");  // LAN: no translation
    }, {}, &nat);
    SimSocket& p = net.bind("203.0.113.5:1000", [&](const Endpoint&, ByteView) { ++pub_got; });
    Bytes x{1};
    a.send(ep("192.168.0.3:1000"), x);  // same LAN
    p.send(ep("192.168.0.3:1000"), x);  // a private address from outside: unroutable
    p.send(ep("203.0.113.77:1"), x);    // nobody there
    q.run_for(100ms);
    CHECK(lan_got == 1);
    CHECK(net.unroutable() == 2);
    a.send(ep("198.51.100.1:30000"), x);  // its own NAT's public address
    q.run_for(100ms);
    CHECK(net.unroutable() == 3);  // no hairpinning by default
    CHECK_THROWS(net.bind("203.0.113.5:1000"));
    net.close(p);
    a.send(ep("203.0.113.5:1000"), x);
    q.run_for(100ms);
    CHECK(pub_got == 0);
}

TEST_CASE("sim network: per-link delay and jitter, per-link loss, repeatable per seed") {
    auto run = [](uint64_t seed, double loss, std::vector<int64_t>* arrivals_ms) {
        VirtualClock clock;
        EventQueue q(clock);
        SimRandom rng(seed);
        SimNetwork net(q, rng);
        auto t0 = q.now();
        SimSocket& a = net.bind("203.0.113.1:1", {}, {20ms, 10ms, loss});
        int got = 0;
        net.bind("203.0.113.2:1", [&](const Endpoint&, ByteView) {
            ++got;
            if (arrivals_ms) arrivals_ms->push_back((q.now() - t0) / 1ms);
        }, {30ms, 0ms, 0.0});
        Bytes x{1};
        for (int i = 0; i < 1000; ++i) a.send(*Endpoint::parse("203.0.113.2:1"), x);
        q.run_for(1s);
        CHECK(net.lost() + net.delivered() == 1000);
        return got;
    };
    std::vector<int64_t> arrivals;
    CHECK(run(1, 0.0, &arrivals) == 1000);
    for (auto ms : arrivals) {
        CHECK(ms >= 50);  // 20 + 30 ms
        CHECK(ms <= 60);  // plus up to 10 ms of jitter
    }
    CHECK(arrivals.front() != arrivals.back());
    int a = run(11, 0.3, nullptr), b = run(11, 0.3, nullptr), c = run(12, 0.3, nullptr);
    CHECK(a == b);  // one seed, one outcome
    CHECK(a != c);
    CHECK(a > 650);
    CHECK(a < 750);
}
