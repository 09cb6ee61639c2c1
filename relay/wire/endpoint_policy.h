// Which VPN endpoints a relay agrees to forward to.
// A relay must not become a way into its own host or its own network: endpoints on
// loopback, private (RFC 1918, IPv6 ULA), CGNAT, link-local, multicast, broadcast,
// unspecified or reserved addresses, port 0 and the relay's own addresses (for IPv6, any
// address in the /64 of one of its own global addresses) are refused.
// Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)
// are allowed: labs use them.
#pragma once
#include <vector>

#include "relay/wire/endpoint.h"

namespace pave {

enum class EndpointVerdict {
    ok,
    loopback,         // 127.0.0.0/8, ::1
    private_rfc1918,  // 10/8, 172.16/12, 192.168/16, fc00::/7 (ULA), fec0::/10 (old site-local)
    cgnat,            // 100.64.0.0/10
    link_local,       // 169.254.0.0/16, fe80::/10
    multicast,        // 224.0.0.0/4, ff00::/8
    unspecified,      // 0.0.0.0, ::, or an endpoint without an address
    broadcast,        // 255.255.255.255
    own_address,      // one of the relay's own addresses (any port), or in the /64 of an own IPv6 address
    port_zero,
    reserved,         // 0.0.0.0/8, 240.0.0.0/4, ::/8 leftovers, 100::/64, 64:ff9b:1::/48, ...
};

// Addresses that embed an IPv4 address the host would reach (::ffff:a.b.c.d, ::ffff:0:a.b.c.d,
// 64:ff9b::a.b.c.d via NAT64, 2002:aabb:ccdd:: via 6to4) get the verdict of that IPv4 address.
// `own_addresses` are compared by address only, ports ignored; an IPv6 endpoint in the /64 of a
// global own IPv6 address counts as own (the relay's network). With `allow_private` the
// loopback, private, CGNAT and link-local classes are allowed (labs), but multicast,
// broadcast, unspecified, reserved, port 0 and the relay's own addresses stay refused.
EndpointVerdict check_endpoint(const Endpoint& ep, const std::vector<Endpoint>& own_addresses, bool allow_private);

// Candidate addresses of a rendezvous peer (who will be sent probes before it has sent
// anything): the same classes as check_endpoint. With `allow_private` (labs, or LAN
// candidates) the private classes are allowed and so are the own addresses on another port
// (peers on the same host); the exact own endpoints in `own_bound` stay refused.
EndpointVerdict check_candidate(const Endpoint& ep, const std::vector<Endpoint>& own_addresses,
                                const std::vector<Endpoint>& own_bound, bool allow_private);

// The group of addresses one host commonly holds: the IPv4 address (4 bytes, also when it is
// embedded in IPv6) or the IPv6 /64 (8 bytes). Empty for an invalid endpoint. Per-client and
// per-destination limits count by this.
Bytes address_group(const Endpoint& ep);

// The class of an address alone: never own_address or port_zero, and not lifted by any flag.
EndpointVerdict classify_address(const Endpoint& ep);

const char* to_string(EndpointVerdict v);

}  // namespace pave
