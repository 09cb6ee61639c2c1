// Address candidates of a role's socket, offered to the other side of a rendezvous.
//
// By default: the reflexive (public, as a reflector saw it) address first, then the host's
// public interface addresses. Private (RFC 1918, ULA, CGNAT) host addresses only with LAN
// candidates on (`--lan-candidates`, for peers on the same network); never loopback or
// link-local ones, and never an address of a tunnel interface (a VPN's address is often
// fixed per user: a long-term identity for the relay). A node bound to one address offers it
// (after the reflexive one) if it is public, or with LAN candidates on.
//
// A tunnel interface is point-to-point or ARP-less (IFF_POINTOPOINT, IFF_NOARP: tun, WireGuard,
// PPP), has a tunnel link type (/sys/class/net/IF/type: ARPHRD_NONE 65534, PPP, IPIP, SIT,
// GRE), or is named like one (tun*, tap*, wg*, ppp*, ...).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "relay/wire/endpoint.h"

namespace pave {

// The process-wide LAN candidates setting (`--lan-candidates`): offer private host addresses
// and accept a peer's private candidates. Off by default.
void set_lan_candidates(bool on);
bool lan_candidates();

struct HostAddress {
    std::string ifname;
    Endpoint addr;      // port 0
    unsigned flags = 0; // IFF_*
    int link_type = -1; // ARPHRD_*, -1 if unknown
};

bool is_tunnel_interface(const HostAddress& a);

// The candidates from the host's addresses as listed (I/O-free).
std::vector<Endpoint> choose_candidates(const Endpoint& bound, const std::optional<Endpoint>& reflexive,
                                        const std::vector<HostAddress>& host, size_t max_candidates, bool lan);

// Every address of every interface of the host that is up (getifaddrs, /sys/class/net).
std::vector<HostAddress> list_host_addresses();
// Just the addresses (port 0): what a relay counts as its own.
std::vector<Endpoint> host_addresses();

// choose_candidates over list_host_addresses() with the process-wide LAN setting.
std::vector<Endpoint> gather_candidates(const Endpoint& bound, const std::optional<Endpoint>& reflexive,
                                        size_t max_candidates);

}  // namespace pave
