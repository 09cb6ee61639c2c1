// What the relay engine (relay/engine/relay_engine.h) needs from the world beyond EngineHost:
// one socket per session towards the client's VPN endpoint, STUN answers through the shared
// port's amplification guard, and the host's addresses.
//
// The VPN socket of a session is opened by the engine once the client's address is validated
// and admitted, and closed when the session ends; what arrives on it is fed back to the engine
// (RelayEngine::on_vpn_datagram, on_vpn_unreachable) with the session's connection id.
// A host never calls back into the engine from inside one of these calls.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "relay/engine/engine_host.h"

namespace pave {

class RelayEngineHost : public EngineHost {
public:
    using ConnId = ByteArray<8>;

    // Opens the session's socket towards `vpn` (connected to it, on a local port the host
    // chooses, with SO_MARK `fwmark` when non-zero). "" when open, else why not (one line).
    virtual std::string vpn_open(const ConnId& id, const Endpoint& vpn, uint32_t fwmark) = 0;
    // A WireGuard datagram to the VPN endpoint on the session's socket (may batch).
    virtual void vpn_send(const ConnId& id, ByteView data) = 0;
    // The session ended: its socket is closed (a no-op if it was never opened).
    virtual void vpn_close(const ConnId& id) = 0;

    // A reply to `to` (a STUN answer, a rendezvous answer) through the shared port's
    // amplification guard (the port the request arrived on). True when it was sent now.
    virtual bool send_reply(const Endpoint& to, ByteView data) = 0;

    // The candidates the relay names in its answers (its public, reflexive address, and host
    // addresses where the policy allows them): empty while it knows no public address.
    virtual std::vector<Endpoint> own_candidates() = 0;
    // Every address of the host (all interfaces, any family): refused as endpoints and
    // candidates. Asked at most every 10 s.
    virtual std::vector<Endpoint> host_addresses() = 0;

    // Presence: a permanent put of `value` at `key`. The DHT keeps sending it to whichever nodes
    // are the closest to the key as they change, refreshed before it expires there, until
    // dht_withdraw. Returns the value id; whether the first round reached a storer comes back
    // through RelayEngine::on_announce_done(now, key, id, ok).
    virtual uint64_t dht_announce(const DhtKey& key, Bytes value) = 0;
    // Stops re-sending an announced value (storers keep it until it expires there).
    virtual void dht_withdraw(const DhtKey& key, uint64_t id) = 0;
    // Whether the DHT has joined (knows peers and had a moment to fill its routing table): the
    // relay announces and listens on its inboxes only then (a put made before the node has
    // bootstrapped is acknowledged by nobody, or by the few nodes known at cold start, and
    // every search made then starts at the bootstrap node).
    virtual bool dht_connected() = 0;

    // CPU time of the calling thread in nanoseconds, for the trial-decryption cost figure
    // (0 when the host does not measure it).
    virtual uint64_t thread_cpu_ns() { return 0; }
};

}  // namespace pave
