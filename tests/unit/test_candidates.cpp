// Which of the host's addresses a node offers as rendezvous candidates.
#include <doctest/doctest.h>

#include <net/if.h>
#include <net/if_arp.h>

#include <string>

#include "node/candidates.h"

using namespace pave;

namespace {

Endpoint ep(const std::string& text) { return Endpoint::parse(text).value(); }

HostAddress host(const std::string& ifname, const std::string& addr, unsigned flags = IFF_UP | IFF_BROADCAST,
                 int type = ARPHRD_ETHER) {
    HostAddress h;
    h.ifname = ifname;
    h.addr = ep(addr);
    h.flags = flags;
    h.link_type = type;
    return h;
}

const Endpoint kAny4 = ep("0.0.0.0:4600");
const Endpoint kRefl = ep("198.51.100.10:4600");

}  // namespace

TEST_CASE("candidates: tunnel interfaces are recognised by flags, link type or name") {
    CHECK_FALSE(is_tunnel_interface(host("eth0", "192.0.2.1:0")));
    CHECK(is_tunnel_interface(host("wg0", "10.66.0.2:0", IFF_UP | IFF_POINTOPOINT | IFF_NOARP, ARPHRD_NONE)));
    CHECK(is_tunnel_interface(host("x", "10.66.0.2:0", IFF_UP | IFF_NOARP, ARPHRD_ETHER)));
    CHECK(is_tunnel_interface(host("x", "10.66.0.2:0", IFF_UP | IFF_POINTOPOINT, ARPHRD_ETHER)));
    CHECK(is_tunnel_interface(host("x", "10.66.0.2:0", IFF_UP, ARPHRD_NONE)));  // e.g. tun, wg
    CHECK(is_tunnel_interface(host("x", "10.66.0.2:0", IFF_UP, ARPHRD_PPP)));
    CHECK(is_tunnel_interface(host("x", "10.66.0.2:0", IFF_UP, ARPHRD_SIT)));
    CHECK(is_tunnel_interface(host("tun3", "10.66.0.2:0", IFF_UP, -1)));
    CHECK(is_tunnel_interface(host("tailscale0", "100.100.1.1:0", IFF_UP, -1)));
    CHECK_FALSE(is_tunnel_interface(host("lo", "127.0.0.1:0", IFF_UP | IFF_LOOPBACK, ARPHRD_LOOPBACK)));
}

TEST_CASE("candidates: by default the reflexive address and public host addresses only") {
    std::vector<HostAddress> h = {
        host("lo", "127.0.0.1:0", IFF_UP | IFF_LOOPBACK, ARPHRD_LOOPBACK),
        host("eth0", "192.168.1.20:0"),
        host("eth1", "192.0.2.20:0"),
        host("eth2", "100.64.3.4:0"),
        host("eth3", "169.254.7.7:0"),
        host("wg0", "203.0.113.77:0", IFF_UP | IFF_POINTOPOINT | IFF_NOARP, ARPHRD_NONE),  // a VPN's public address
        host("tun0", "198.51.100.99:0", IFF_UP, ARPHRD_NONE),
        host("eth4", "192.0.2.21:0", IFF_BROADCAST),  // down
        host("eth1", "[2001:db8::20]:0"),             // other family
    };
    auto c = choose_candidates(kAny4, kRefl, h, 8, false);
    CHECK(c == std::vector<Endpoint>{kRefl, ep("192.0.2.20:4600")});
    // With LAN candidates: the private ones too (never loopback, link-local, a tunnel's).
    c = choose_candidates(kAny4, kRefl, h, 8, true);
    CHECK(c == std::vector<Endpoint>{kRefl, ep("192.168.1.20:4600"), ep("192.0.2.20:4600"), ep("100.64.3.4:4600")});
    // Bounded, reflexive first, no duplicates.
    c = choose_candidates(kAny4, ep("192.0.2.20:4600"), h, 8, true);
    CHECK(c.front() == ep("192.0.2.20:4600"));
    CHECK(c.size() == 3);
    CHECK(choose_candidates(kAny4, kRefl, h, 1, true).size() == 1);
    // IPv6: public addresses, never link-local or ULA by default.
    std::vector<HostAddress> h6 = {host("eth0", "[fe80::1]:0"), host("eth0", "[fd00::5]:0"),
                                   host("eth0", "[2001:db8::20]:0"),
                                   host("wg0", "[2001:db8:77::2]:0", IFF_UP | IFF_POINTOPOINT | IFF_NOARP, ARPHRD_NONE)};
    CHECK(choose_candidates(ep("[::]:4600"), std::nullopt, h6, 8, false) == std::vector<Endpoint>{ep("[2001:db8::20]:4600")});
    CHECK(choose_candidates(ep("[::]:4600"), std::nullopt, h6, 8, true).size() == 2);
}

TEST_CASE("candidates: a bound address is offered when public, or on a LAN") {
    CHECK(choose_candidates(ep("10.1.0.2:4600"), ep("203.0.113.10:4600"), {}, 8, false) ==
          std::vector<Endpoint>{ep("203.0.113.10:4600")});
    CHECK(choose_candidates(ep("10.1.0.2:4600"), ep("203.0.113.10:4600"), {}, 8, true).size() == 2);
    CHECK(choose_candidates(ep("192.0.2.5:4600"), std::nullopt, {}, 8, false) == std::vector<Endpoint>{ep("192.0.2.5:4600")});
    CHECK(choose_candidates(ep("127.0.0.1:4600"), std::nullopt, {}, 8, false).empty());
    CHECK(choose_candidates(ep("127.0.0.1:4600"), std::nullopt, {}, 8, true) == std::vector<Endpoint>{ep("127.0.0.1:4600")});
}

TEST_CASE("candidates: this host's interfaces are listed with their link type") {
    auto all = list_host_addresses();
    bool loopback = false;
    for (const auto& h : all) {
        CHECK(h.addr.valid());
        if (h.flags & IFF_LOOPBACK) {
            loopback = true;
            CHECK(h.link_type == ARPHRD_LOOPBACK);
            CHECK_FALSE(is_tunnel_interface(h));
        }
    }
    CHECK(loopback);
    CHECK(host_addresses().size() == all.size());
}
