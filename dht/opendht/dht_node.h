// PAVE's handle on OpenDHT (2.4): a DhtRunner without identity, on a role's shared socket.
//
// OpenDHT runs without an identity: with one, SecureDht would RSA-decrypt every
// encrypted-form value at any key it reads, so anyone could stall the node by stuffing a key.
// Everything PAVE puts is a plain value under a fresh random value id; authenticity and
// secrecy live inside the value. Callbacks given here run on OpenDHT's thread: callers post
// their results to the loop. This header includes no OpenDHT header.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "dht/bucket_keys.h"
#include "relay/wire/endpoint.h"

namespace pave {

// OpenDHT limits PAVE runs with (see DhtNode::DhtNode).
inline constexpr long kDhtMaxRequestsPerSec = 2048;
inline constexpr long kDhtMaxPeerRequestsPerSec = 512;
inline constexpr long kDhtMaxStoreBytes = 16L << 20;
inline constexpr long kDhtMaxStoreKeys = 65536;
// How long a node waits, once connected, for its own-id lookup before it starts its own
// searches anyway (DhtNode::ready).
inline constexpr std::chrono::milliseconds kDhtJoinFallback{3000};

struct DhtStatus {
    std::string v4, v6;  // "connected", "connecting", "disconnected"
    unsigned good4 = 0, dubious4 = 0, good6 = 0, dubious6 = 0;
    bool connected() const { return v4 == "connected" || v6 == "connected"; }
};

struct DhtStoredValue {
    DhtKey key;
    Bytes data;  // the value's payload as stored
};

class DhtNode {
public:
    using ValuesCallback = std::function<void(std::vector<Bytes> values, bool expired)>;
    using DoneCallback = std::function<void(bool ok)>;

    // OpenDHT's log lines (on OpenDHT's thread; must be thread-safe): warning is true for the
    // lines that report a failure, false for routine work. Lines may name peer addresses.
    using LogFn = std::function<void(bool warning, const std::string& line)>;

    struct Options {
        uint32_t network_id = 0;
        LogFn log;
        // Send a datagram on the role's shared UDP port (thread-safe; 0 or an errno). Empty:
        // no socket of that family.
        std::function<int(ByteView data, const Endpoint& to)> send4, send6;
        Endpoint bound4, bound6;
        bool verbose = false;    // pass OpenDHT's debug log through
        bool client = false;     // the client role: peers keep it out of their routing tables
        // Called on OpenDHT's thread (post to the loop) each time the node becomes connected,
        // and each time it becomes ready() after that: when its own-id lookup ends.
        std::function<void()> on_connected, on_joined;
    };

    explicit DhtNode(const Options& opts);
    ~DhtNode();
    DhtNode(const DhtNode&) = delete;
    DhtNode& operator=(const DhtNode&) = delete;

    // Loop thread: a DHT datagram received on the shared port.
    void deliver(ByteView data, const Endpoint& from);
    // Loop thread, once per loop iteration: hands the queued datagrams to OpenDHT.
    void flush_received();

    // "host:port" entries; names are resolved by OpenDHT. Safe to call again (retry).
    void bootstrap(const std::vector<std::string>& nodes);
    void put(const DhtKey& key, Bytes value, DoneCallback done = {});
    // A permanent put (OpenDHT's put(..., permanent = true)): OpenDHT keeps the value and sends it
    // again to whichever nodes are the closest to `key` as its routing table changes, refreshing
    // it before it expires at the storers, until cancel_announce. done(ok) reports the first
    // round: ok when at least one storer acknowledged it. Returns the value id (fresh, random).
    uint64_t announce(const DhtKey& key, Bytes value, DoneCallback done = {});
    // OpenDHT's cancelPut: stops re-sending the value; storers keep it until it expires there.
    void cancel_announce(const DhtKey& key, uint64_t value_id);
    void get(const DhtKey& key, ValuesCallback values, DoneCallback done = {});
    // Never blocks (OpenDHT may hold the operation until connected). Returns a token for cancel_listen.
    size_t listen(const DhtKey& key, ValuesCallback values);
    void cancel_listen(const DhtKey& key, size_t token);

    DhtStatus status() const;
    // status().connected() without asking OpenDHT's thread (its last status callback).
    bool connected() const;
    // Joined: connected, and its lookup of its own id (a Kademlia join, made as soon as the node
    // is connected) has ended, or kDhtJoinFallback passed. PAVE starts its own searches
    // (listens, announces) only then: made earlier, every one of them starts at the bootstrap
    // node, the only node known, and OpenDHT's own lookup (its first confirmNodes, 3-5 s after
    // start) is skipped while any search is pending (dht.cpp), so this node would be known
    // to its neighbourhood late (README, "Directory").
    bool ready() const;
    std::string node_id_hex() const;  // the DHT routing id (random per run)
    std::vector<DhtStoredValue> export_values() const;
    // Addresses of DHT peers in the routing table (candidate STUN reflectors), at most max.
    std::vector<Endpoint> known_nodes(size_t max) const;
    // Any thread: mark everything this node sends as a client's (on) or not (off), e.g. once it
    // learns it sits behind a NAT that strangers cannot reach it through (dht/dht_wire.h).
    void set_client_mode(bool on);
    bool client_mode() const;
    void stop();  // synchronous: joins OpenDHT's threads

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pave
