#include "relay/wire/endpoint_policy.h"

#include <algorithm>
#include <array>
#include <optional>

namespace pave {
namespace {

using V4 = std::array<uint8_t, 4>;

EndpointVerdict classify_v4(const V4& a) {
    if (a[0] == 0) return (a[1] | a[2] | a[3]) == 0 ? EndpointVerdict::unspecified : EndpointVerdict::reserved;
    if (a[0] == 10) return EndpointVerdict::private_rfc1918;
    if (a[0] == 100 && (a[1] & 0xc0) == 64) return EndpointVerdict::cgnat;
    if (a[0] == 127) return EndpointVerdict::loopback;
    if (a[0] == 169 && a[1] == 254) return EndpointVerdict::link_local;
    if (a[0] == 172 && (a[1] & 0xf0) == 16) return EndpointVerdict::private_rfc1918;
    if (a[0] == 192 && a[1] == 168) return EndpointVerdict::private_rfc1918;
    if (a[0] >= 224 && a[0] <= 239) return EndpointVerdict::multicast;
    if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255) return EndpointVerdict::broadcast;
    if (a[0] >= 240) return EndpointVerdict::reserved;
    return EndpointVerdict::ok;
}

bool all_zero(const Bytes& b, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
        if (b[i] != 0) return false;
    return true;
}

V4 v4_at(const Bytes& b, size_t at) { return {b[at], b[at + 1], b[at + 2], b[at + 3]}; }

// The IPv4 address an IPv6 address leads to, for the forms a host or its network
// translates: IPv4-mapped, IPv4-translated (SIIT), NAT64 well-known prefix, 6to4.
std::optional<V4> embedded_v4(const Bytes& b) {
    if (b.size() != 16) return std::nullopt;
    if (Endpoint::is_v4_mapped(b)) return v4_at(b, 12);                                   // ::ffff:0:0/96
    if (all_zero(b, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)  // ::ffff:0:0:0/96
        return v4_at(b, 12);
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && all_zero(b, 4, 12))  // 64:ff9b::/96
        return v4_at(b, 12);
    if (b[0] == 0x20 && b[1] == 0x02) return v4_at(b, 2);  // 2002::/16
    return std::nullopt;
}

EndpointVerdict classify_v6(const Bytes& b) {
    if (auto v4 = embedded_v4(b)) return classify_v4(*v4);
    if (all_zero(b, 0, 16)) return EndpointVerdict::unspecified;
    if (all_zero(b, 0, 15) && b[15] == 1) return EndpointVerdict::loopback;
    // The rest of ::/8: IPv4-compatible ::/96, local-use NAT64 64:ff9b:1::/48 (its embedded
    // address cannot be located), other unassigned space.
    if (b[0] == 0x00) return EndpointVerdict::reserved;
    if (b[0] == 0xff) return EndpointVerdict::multicast;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return EndpointVerdict::link_local;       // fe80::/10
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return EndpointVerdict::private_rfc1918;  // fec0::/10
    if ((b[0] & 0xfe) == 0xfc) return EndpointVerdict::private_rfc1918;                  // fc00::/7
    if (b[0] == 0x01 && b[1] == 0x00 && all_zero(b, 2, 8)) return EndpointVerdict::reserved;  // 100::/64 discard
    return EndpointVerdict::ok;
}

// The address in the form used for comparisons: IPv4 (possibly embedded) as 4 bytes, else 16.
Bytes canonical_ip(const Endpoint& e) {
    Bytes b = e.ip_bytes();
    if (b.size() == 16)
        if (auto v4 = embedded_v4(b)) return Bytes(v4->begin(), v4->end());
    return b;
}

bool same_own_address(const Bytes& ip, const Endpoint& own) {
    if (!own.valid()) return false;
    const Bytes o = canonical_ip(own);
    if (o == ip) return true;
    // An own global IPv6 address: its whole /64 is the relay's network.
    if (o.size() != 16 || ip.size() != 16 || all_zero(o, 0, 8)) return false;
    if (classify_v6(o) != EndpointVerdict::ok) return false;
    return std::equal(o.begin(), o.begin() + 8, ip.begin());
}

bool lifted_by_allow_private(EndpointVerdict v) {
    switch (v) {
    case EndpointVerdict::loopback:
    case EndpointVerdict::private_rfc1918:
    case EndpointVerdict::cgnat:
    case EndpointVerdict::link_local: return true;
    default: return false;
    }
}

}  // namespace

EndpointVerdict classify_address(const Endpoint& ep) {
    if (!ep.valid()) return EndpointVerdict::unspecified;
    Bytes b = ep.ip_bytes();
    if (b.size() == 4) return classify_v4(v4_at(b, 0));
    if (b.size() == 16) return classify_v6(b);
    return EndpointVerdict::unspecified;
}

EndpointVerdict check_endpoint(const Endpoint& ep, const std::vector<Endpoint>& own_addresses, bool allow_private) {
    if (!ep.valid() || ep.ip_bytes().empty()) return EndpointVerdict::unspecified;
    if (ep.port() == 0) return EndpointVerdict::port_zero;
    const Bytes ip = canonical_ip(ep);
    for (const auto& own : own_addresses)
        if (same_own_address(ip, own)) return EndpointVerdict::own_address;
    EndpointVerdict v = classify_address(ep);
    if (allow_private && lifted_by_allow_private(v)) return EndpointVerdict::ok;
    return v;
}

EndpointVerdict check_candidate(const Endpoint& ep, const std::vector<Endpoint>& own_addresses,
                                const std::vector<Endpoint>& own_bound, bool allow_private) {
    if (!allow_private) return check_endpoint(ep, own_addresses, false);
    if (!ep.valid() || ep.ip_bytes().empty()) return EndpointVerdict::unspecified;
    if (ep.port() == 0) return EndpointVerdict::port_zero;
    const Bytes ip = canonical_ip(ep);
    for (const auto& own : own_bound)
        if (own.valid() && canonical_ip(own) == ip && own.port() == ep.port()) return EndpointVerdict::own_address;
    EndpointVerdict v = classify_address(ep);
    return lifted_by_allow_private(v) ? EndpointVerdict::ok : v;
}

Bytes address_group(const Endpoint& ep) {
    if (!ep.valid()) return {};
    Bytes ip = canonical_ip(ep);
    if (ip.size() == 16) ip.resize(8);
    return ip;
}

const char* to_string(EndpointVerdict v) {
    switch (v) {
    case EndpointVerdict::ok: return "ok";
    case EndpointVerdict::loopback: return "loopback address";
    case EndpointVerdict::private_rfc1918: return "private address";
    case EndpointVerdict::cgnat: return "CGNAT address (100.64.0.0/10)";
    case EndpointVerdict::link_local: return "link-local address";
    case EndpointVerdict::multicast: return "multicast address";
    case EndpointVerdict::unspecified: return "unspecified address";
    case EndpointVerdict::broadcast: return "broadcast address";
    case EndpointVerdict::own_address: return "the relay's own address";
    case EndpointVerdict::port_zero: return "port 0";
    case EndpointVerdict::reserved: return "reserved address";
    }
    return "?";
}

}  // namespace pave
