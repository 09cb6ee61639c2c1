// What the client engine (relay/engine/client_engine.h) needs from the world beyond what every
// role engine needs (EngineHost): the local WireGuard's socket, the DHT peers it may ask for its
// public address, the host's own addresses, and a way to say that it gave up.
//
// The node's adapter (node/client_service.cpp) implements it over libuv and OpenDHT; the swarm
// simulator (tests/sim/) over its virtual network. Loop thread only, like EngineHost.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "relay/engine/engine_host.h"

namespace pave {

class ClientEngineHost : public EngineHost {
public:
    // EngineHost::send carries the session's control frames (PING, CLOSE, ...) to the relay.

    // A WireGuard packet of the data path toward the relay's validated address. The adapter may
    // batch these (sendmmsg) until the end of the loop iteration.
    virtual void send_wireguard(const Endpoint& to, ByteView data) = 0;
    // A WireGuard packet from the relay toward the local WireGuard (the source it locked onto),
    // through the local listener socket (`--listen`). May be batched the same way.
    virtual void send_local(const Endpoint& to, ByteView data) = 0;
    // A STUN Binding request toward a reflector whose address is not validated: the adapter sends
    // it through the port's amplification guard (as a request) and may drop it.
    virtual void send_probe(const Endpoint& to, ByteView data) = 0;

    // A short read of the DHT (a get, never a listen): the values stored at `key` arrive through
    // ClientEngine::on_dht_values with the returned token (a token never used by dht_listen), then
    // ClientEngine::on_dht_done(now, key, token, ok).
    virtual DhtListenToken dht_get(const DhtKey& key) = 0;

    // Up to `max` DHT peers this node knows (every PAVE node answers STUN).
    virtual std::vector<Endpoint> known_nodes(size_t max) = 0;
    // Whether the DHT has a peer (for the reason a client gives when it finds no relay).
    virtual bool dht_connected() = 0;
    // This role's address candidates for an offer: the reflexive address (if any) first, then
    // the host's usable interface addresses (node/candidates.h: gather_candidates), at most `max`.
    virtual std::vector<Endpoint> candidates(const std::optional<Endpoint>& reflexive, size_t max) = 0;

    // The guard state changed (guards, their failures, the relays seen and when): the adapter
    // keeps `text` for the next run (the state dir's `guards` file, replaced atomically). At
    // most every 10 s, and when the engine closes. A host that keeps nothing may ignore it.
    virtual void save_guard_state(const std::string& text) { (void)text; }
    // The relays last seen changed (dht/directory_cache.h): kept for the next run (the state
    // dir's `directory` file). When the first path connects, at most once a minute after that,
    // and when the engine closes. A host that keeps nothing may ignore it.
    virtual void save_directory_cache(const std::string& text) { (void)text; }

    // The client cannot go on (the first attempt failed; the line was already an event). The
    // adapter exits with code 1; the engine stays in Step::failed and does nothing more.
    virtual void gave_up(const std::string& why) = 0;
};

}  // namespace pave
