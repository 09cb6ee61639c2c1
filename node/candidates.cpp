#include "node/candidates.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <string_view>

#include "relay/wire/endpoint_policy.h"

namespace pave {

namespace {

std::atomic<bool> g_lan_candidates{false};

bool tunnel_link_type(int t) {
    switch (t) {
        case ARPHRD_NONE:     // tun, WireGuard
        case ARPHRD_PPP:
        case ARPHRD_TUNNEL:   // IPIP
        case ARPHRD_TUNNEL6:
        case ARPHRD_SIT:
        case ARPHRD_IPGRE:
        case 823:             // ARPHRD_IP6GRE (linux/if_arp.h)
            return true;
        default: return false;
    }
}

bool tunnel_name(std::string_view n) {
    for (std::string_view p : {"tun", "tap", "wg", "ppp", "utun", "ipsec", "vti", "gre", "tailscale", "zt", "nordlynx"})
        if (n.substr(0, p.size()) == p) return true;
    return false;
}

int read_link_type(const std::string& ifname) {
    if (ifname.empty() || ifname.find('/') != std::string::npos || ifname.find("..") != std::string::npos) return -1;
    std::ifstream f("/sys/class/net/" + ifname + "/type");
    int t = -1;
    if (!(f >> t)) return -1;
    return t;
}

}  // namespace

void set_lan_candidates(bool on) { g_lan_candidates = on; }
bool lan_candidates() { return g_lan_candidates; }

bool is_tunnel_interface(const HostAddress& a) {
    if (a.flags & IFF_LOOPBACK) return false;
    if (a.flags & (IFF_POINTOPOINT | IFF_NOARP)) return true;
    if (tunnel_link_type(a.link_type)) return true;
    return tunnel_name(a.ifname);
}

std::vector<Endpoint> choose_candidates(const Endpoint& bound, const std::optional<Endpoint>& reflexive,
                                        const std::vector<HostAddress>& host, size_t max_candidates, bool lan) {
    std::vector<Endpoint> out;
    auto add = [&](const Endpoint& e) {
        if (e.valid() && out.size() < max_candidates && std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    };
    // Which host addresses are offered: public ones; private ones on a LAN; never loopback,
    // link-local or anything a peer cannot be sent to.
    auto offered = [&](const Endpoint& e) {
        switch (classify_address(e)) {
            case EndpointVerdict::ok: return true;
            case EndpointVerdict::private_rfc1918:
            case EndpointVerdict::cgnat: return lan;
            default: return false;
        }
    };
    if (reflexive) add(*reflexive);
    Bytes bound_ip = bound.ip_bytes();
    bool wildcard = std::all_of(bound_ip.begin(), bound_ip.end(), [](uint8_t b) { return b == 0; });
    if (!wildcard) {
        // An address the user chose: as is on a LAN (loopback included, for tests on one host).
        if (lan || classify_address(bound) == EndpointVerdict::ok) add(bound);
        return out;
    }
    for (const auto& h : host) {
        if (!(h.flags & IFF_UP) || (h.flags & IFF_LOOPBACK) || h.addr.family() != bound.family()) continue;
        if (is_tunnel_interface(h) || !offered(h.addr)) continue;
        Endpoint e = h.addr;
        e.set_port(bound.port());
        add(e);
    }
    return out;
}

std::vector<HostAddress> list_host_addresses() {
    std::vector<HostAddress> out;
    ifaddrs* ifs = nullptr;
    if (getifaddrs(&ifs) != 0) return out;
    std::map<std::string, int> types;
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6) continue;
        auto e = Endpoint::from_sockaddr(i->ifa_addr, fam == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        if (!e) continue;
        HostAddress h;
        h.ifname = i->ifa_name ? i->ifa_name : "";
        h.addr = *e;
        h.flags = i->ifa_flags;
        auto t = types.find(h.ifname);
        h.link_type = t != types.end() ? t->second : (types[h.ifname] = read_link_type(h.ifname));
        out.push_back(std::move(h));
    }
    freeifaddrs(ifs);
    return out;
}

std::vector<Endpoint> host_addresses() {
    std::vector<Endpoint> out;
    for (const auto& h : list_host_addresses()) out.push_back(h.addr);
    return out;
}

std::vector<Endpoint> gather_candidates(const Endpoint& bound, const std::optional<Endpoint>& reflexive,
                                        size_t max_candidates) {
    return choose_candidates(bound, reflexive, list_host_addresses(), max_candidates, lan_candidates());
}

}  // namespace pave
