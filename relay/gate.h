// The relay gate: decides, packet by packet, what a relay session forwards between a
// client and its VPN endpoint. I/O-free; the caller passes the time in.
//
// The relay forwards WireGuard byte for byte and must never become an open proxy or an
// amplifier. The gate enforces:
//  - only WireGuard-shaped datagrams cross, both ways (relay/wireguard_shape.h);
//  - the session is *locked* until the endpoint answers with a handshake response whose
//    receiver index is the sender index of an initiation the client sent through this gate.
//    While locked: from the client only initiations; from the endpoint only a handshake
//    response or a cookie reply answering such an initiation;
//  - every handshake response and cookie reply, locked or not, must answer a handshake message
//    that crossed the gate the other way and has not been answered yet: a response answers an
//    initiation, a cookie reply an initiation or a response, each message at most once;
//  - initiations are rate-limited per session and direction (burst 5, then 1/s by default) and
//    client initiations, while locked, also per destination across all sessions
//    (DestinationLimiter). Once unlocked, the endpoint has accepted this client, so its rekeys
//    (every 2 min) must not be starved by strangers using up the destination's budget;
//  - bytes and packets per session are capped; the session expires when idle.
//
// Amplification bound while locked: every datagram forwarded endpoint -> client answers a
// distinct initiation forwarded client -> endpoint and is smaller than it (92 or 64 bytes
// against 148), so packets_to_client <= packets_to_endpoint and bytes_to_client <
// bytes_to_endpoint hold for as long as the session is locked.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "crypto/bytes.h"
#include "relay/endpoint.h"
#include "relay/rate_limiter.h"
#include "relay/wireguard_shape.h"

namespace pave {

struct GateLimits {
    using duration = std::chrono::steady_clock::duration;

    // Client handshake initiations per session: burst, then per second.
    double init_burst = 5;
    double init_rate = 1;
    // Both directions together, per session. Forwarding stops (and the session expires) at the cap.
    uint64_t max_bytes = uint64_t(16) << 30;
    uint64_t max_packets = uint64_t(16) << 20;
    // A locked session expires this long after it was created.
    duration handshake_timeout = std::chrono::seconds(60);
    // An unlocked session expires when either side has had nothing forwarded for this long.
    // WireGuard answers received data within 10 s (passive keepalive) and rekeys every
    // 2 min while in use, so a live tunnel never stays quiet that long one way.
    duration idle_timeout = std::chrono::seconds(180);
};

// Handshake initiations towards one VPN address, shared by all sessions to it (port ignored),
// so many sessions cannot together flood one endpoint with initiations through this relay.
// The table is bounded; when it is full and no entry has gone idle a new destination is refused.
class DestinationLimiter {
public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit DestinationLimiter(double burst = 10, double rate_per_s = 2, size_t max_destinations = 4096);

    // Takes one initiation for `vpn`; true if allowed.
    bool take(const Endpoint& vpn, time_point now);
    // Drops destinations that have been idle long enough to hold a full budget again.
    size_t prune(time_point now) { return limiter_.prune(now); }
    size_t size() const { return limiter_.size(); }

private:
    KeyedRateLimiter limiter_;
};

class Gate {
public:
    using time_point = std::chrono::steady_clock::time_point;

    enum class Verdict {
        forward,
        drop_not_wireguard,     // not WireGuard-shaped
        drop_locked,            // a message other than a handshake while the session is locked
        drop_rate_session,      // initiation over this session's budget
        drop_rate_destination,  // initiation over the destination's budget
        drop_quota,             // byte or packet cap reached
        drop_closed,            // closed or expired
        drop_unknown_index,     // response or cookie reply answering no pending initiation
    };
    static constexpr size_t kVerdictCount = 8;
    // Handshake messages remembered per direction for matching answers; older ones are forgotten.
    static constexpr size_t kPendingHandshakes = 16;

    // `destinations` is shared between sessions and must outlive the gate.
    Gate(const GateLimits& limits, DestinationLimiter& destinations, const Endpoint& vpn, time_point now);
    Gate(const Gate&) = delete;
    Gate& operator=(const Gate&) = delete;

    // Client -> VPN.
    Verdict from_client(ByteView pkt, time_point now);
    // VPN -> client.
    Verdict from_endpoint(ByteView pkt, time_point now);

    bool unlocked() const { return unlocked_; }
    void close() { closed_ = true; }
    bool closed() const { return closed_; }
    // True once closed, out of quota, or past its timeout: the owner then frees the session.
    bool expired(time_point now) const;
    // When the session expires if nothing more is forwarded (time_point::min() if it has).
    time_point deadline() const;

    const Endpoint& vpn() const { return vpn_; }
    uint64_t count(Verdict v) const { return counts_[size_t(v)]; }
    const std::array<uint64_t, kVerdictCount>& counts() const { return counts_; }
    uint64_t bytes_to_endpoint() const { return bytes_to_endpoint_; }
    uint64_t packets_to_endpoint() const { return packets_to_endpoint_; }
    uint64_t bytes_to_client() const { return bytes_to_client_; }
    uint64_t packets_to_client() const { return packets_to_client_; }

private:
    // Sender indices of recent handshake messages that crossed one way, each answerable once:
    // an initiation by a response or a cookie reply, a response by a cookie reply.
    class PendingHandshakes {
    public:
        void add(uint32_t sender_index, WgType type);
        // Marks the oldest unanswered message with this index that `answer` may answer as
        // answered; false if there is none.
        bool answer(uint32_t receiver_index, WgType answer);

    private:
        struct Slot {
            uint32_t index = 0;
            WgType type = WgType::initiation;
            bool pending = false;
        };
        std::array<Slot, kPendingHandshakes> slots_{};
        size_t next_ = 0;
    };

    std::optional<Verdict> precheck(ByteView pkt, time_point now, std::optional<WgMessage>& msg);
    Verdict decide_client(ByteView pkt, time_point now);
    Verdict decide_endpoint(ByteView pkt, time_point now);
    Verdict finish(Verdict v, ByteView pkt, bool to_endpoint, time_point now);

    GateLimits limits_;
    DestinationLimiter& destinations_;
    Endpoint vpn_;
    TokenBucket client_inits_;
    TokenBucket endpoint_inits_;
    // Receiver indices that completed handshakes established for transport data, per direction:
    // WireGuard holds at most three keypairs (previous, current, next), so a few suffice.
    class Indices {
    public:
        void add(uint32_t index) {
            ring_[next_++ % ring_.size()] = index;
            if (size_ < ring_.size()) ++size_;
        }
        bool contains(uint32_t index) const {
            for (size_t i = 0; i < size_; ++i)
                if (ring_[i] == index) return true;
            return false;
        }

    private:
        std::array<uint32_t, 8> ring_{};
        size_t next_ = 0, size_ = 0;
    };
    Indices client_data_;    // receiver indices the client's transport data may carry
    Indices endpoint_data_;  // receiver indices the endpoint's transport data may carry
    PendingHandshakes sent_by_client_;    // sent by the client, answered by the endpoint
    PendingHandshakes sent_by_endpoint_;  // sent by the endpoint (its rekeys), answered by the client
    time_point created_;
    time_point last_to_endpoint_;
    time_point last_to_client_;
    bool unlocked_ = false;
    bool closed_ = false;
    bool quota_exhausted_ = false;
    std::array<uint64_t, kVerdictCount> counts_{};
    uint64_t bytes_to_endpoint_ = 0;
    uint64_t packets_to_endpoint_ = 0;
    uint64_t bytes_to_client_ = 0;
    uint64_t packets_to_client_ = 0;
};

const char* to_string(Gate::Verdict v);

// Session caps per client address and in total. IPv6 clients are counted per /64, since
// one host commonly holds a whole /64; IPv4-mapped IPv6 counts as the IPv4 address.
class SessionCaps {
public:
    SessionCaps(size_t per_ip, size_t total);

    // Takes a slot for a client with these address bytes (4 or 16); false if a cap is reached
    // or the address is malformed.
    bool try_add(const Bytes& client_ip);
    // Gives back a slot taken by try_add; a remove without a matching add does nothing.
    void remove(const Bytes& client_ip);
    size_t count() const { return total_; }
    size_t count(const Bytes& client_ip) const;

private:
    static std::optional<Bytes> key_of(const Bytes& client_ip);

    size_t per_ip_;
    size_t max_total_;
    size_t total_ = 0;
    std::map<Bytes, size_t> per_key_;
};

}  // namespace pave
