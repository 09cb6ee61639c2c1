// Whether a node's DHT takes part as a full node (peers keep it in their routing tables, hand
// its address to others and store values on it) or as a client (dht/dht_wire.h, mark_as_client).
//
// A node behind a NAT is reachable only by the peers it sent to. Were it a full node, peers
// would hand its address to others, whose requests its NAT drops, and every search near it
// would wait out OpenDHT's request timeouts (about 1.2 s) before its put or get went out: a
// fresh `pave connect`'s sealed offer waited that long in the namespace lab, once per connect.
// So a node that is not reachable from strangers is a DHT client, as libp2p's Kademlia switches
// to client mode when AutoNAT finds a node unreachable. Its own puts, gets and listens work as
// before; only storage and routing for others move to the nodes that strangers can reach.
//
// The judgement (pure, for the unit tests):
//  - once the node's public address is known (reflectors): a full node iff it is one of its
//    own addresses (the bound address, or a host address with the bound port when bound to
//    the wildcard);
//  - before that: a client iff the bound address, or for a wildcard bind every host address
//    that is not loopback, is private (RFC 1918, ULA), CGNAT or link-local: such a host is
//    reached from the Internet only through a NAT. Anything else (public, loopback for local
//    swarms, documentation ranges in labs) starts as a full node, so that a swarm whose nodes
//    learn their addresses from each other's reflectors can form at all.
// A node behind a NAT with a port forward is reachable but judged a client: it stores nothing
// for others, which costs the swarm some storage and nothing else.
#pragma once
#include <optional>
#include <vector>

#include "relay/wire/endpoint.h"

namespace pave {

enum class DhtRole { full, client };

DhtRole judge_dht_role(const Endpoint& bound, const std::vector<Endpoint>& host_addresses,
                       const std::optional<Endpoint>& mapped);

const char* to_string(DhtRole r);

}  // namespace pave
