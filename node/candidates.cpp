#include "node/candidates.h"

#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>

namespace pave {

namespace {
bool usable_host_address(const Endpoint& e, bool bound_loopback) {
    Bytes ip = e.ip_bytes();
    if (e.family() == AF_INET) {
        if (ip[0] == 127) return bound_loopback;
        if (ip[0] == 169 && ip[1] == 254) return false;  // link-local
        return true;
    }
    if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) return false;  // link-local
    bool loopback = std::all_of(ip.begin(), ip.end() - 1, [](uint8_t b) { return b == 0; }) && ip[15] == 1;
    return loopback ? bound_loopback : true;
}
}  // namespace

std::vector<Endpoint> gather_candidates(const Endpoint& bound, const std::optional<Endpoint>& reflexive,
                                        size_t max_candidates) {
    std::vector<Endpoint> out;
    auto add = [&](const Endpoint& e) {
        if (out.size() < max_candidates && std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    };
    if (reflexive) add(*reflexive);
    Bytes bound_ip = bound.ip_bytes();
    bool wildcard = std::all_of(bound_ip.begin(), bound_ip.end(), [](uint8_t b) { return b == 0; });
    if (!wildcard) {
        add(bound);
        return out;
    }
    ifaddrs* ifs = nullptr;
    if (getifaddrs(&ifs) != 0) return out;
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || i->ifa_addr->sa_family != bound.family()) continue;
        auto e = Endpoint::from_sockaddr(i->ifa_addr, i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                                                          : sizeof(sockaddr_in));
        if (!e || !usable_host_address(*e, false)) continue;
        e->set_port(bound.port());
        add(*e);
    }
    freeifaddrs(ifs);
    return out;
}

}  // namespace pave
