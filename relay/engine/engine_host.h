// What a role engine (relay/engine/relay_engine.h, relay/engine/client_engine.h) needs from the
// world, and what it tells it. The engines do no I/O and read no clock: the node's libuv/OpenDHT
// adapters (node/) and the in-memory swarm simulator (tests/sim/) implement EngineHost and feed
// the engines datagrams, DHT values and time, the way ZeroTier's Node is fed
// (processWirePacket / processBackgroundTasks returning the next deadline).
//
// Threading: an engine and its host are used from one thread only (the node's loop thread).
// OpenDHT's callbacks are posted to that thread by the adapter before they reach an engine.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "dht/bucket_keys.h"
#include "relay/wire/endpoint.h"

namespace pave {

// The time an engine is fed: a monotonic clock for deadlines and the wall clock (unix
// milliseconds) for what crosses the network (record expiries, offer timestamps, periods).
struct EngineTime {
    std::chrono::steady_clock::time_point mono{};
    uint64_t unix_ms = 0;
    uint64_t unix_s() const { return unix_ms / 1000; }
};

// Something a user or an operator may want to know, as structured data; the adapter prints
// or logs it (and the simulator asserts on it).
struct EngineEvent {
    enum class Level { debug, info, warn, error };
    Level level = Level::info;
    std::string topic;    // "connect", "relay", ...
    std::string message;  // one line, no peer address unless the adapter's policy allows it
};

using DhtListenToken = uint64_t;

class EngineHost {
public:
    virtual ~EngineHost() = default;

    // A datagram on the role's shared UDP port (control frames, STUN answers, WireGuard towards
    // the client). Session traffic only: the port's own amplification guard is the adapter's.
    virtual void send(const Endpoint& to, ByteView data) = 0;

    // The DHT. put: a plain value under a fresh value id. listen: values at `key` arrive later
    // through the engine's on_dht_values(now, key, token, values, expired).
    virtual void dht_put(const DhtKey& key, Bytes value) = 0;
    virtual DhtListenToken dht_listen(const DhtKey& key) = 0;
    virtual void dht_cancel_listen(const DhtKey& key, DhtListenToken token) = 0;

    virtual void event(const EngineEvent& e) = 0;
};

}  // namespace pave
