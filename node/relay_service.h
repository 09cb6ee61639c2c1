// The relay role: presence in the directory, the sealed-rendezvous inbox, and the sessions
// it relays.
//
// Presence: a signed record re-published before it expires; the inbox keys it names rotate
// every period, the previous, current and next periods' keys are held and older ones erased,
// so a later leak exposes no past client.
// Inbox: values on the bucket's inbox keys are trial-decrypted on the loop thread (never on
// OpenDHT's), at a bounded rate from a bounded queue. What is admitted (timestamps, replay,
// VPN endpoint and candidates under the endpoint policy, capacity, per-address limits) is
// decided by SessionAdmission; this class adapts it to the DHT and the sockets.
// Sessions: unvalidated ones live in a budget of their own and open no socket; the socket
// towards the VPN is opened when the client's address is validated and admitted. Probes to
// candidates that have not answered are bounded per session (the punch credit) and per
// destination across sessions (ProbeLimiter).
#pragma once
#include <uv.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include "crypto/ed25519_key.h"
#include "crypto/x25519.h"
#include "dht/bucket_keys.h"
#include "dht/dht_node.h"
#include "dht/rendezvous_blob.h"
#include "node/candidates.h"
#include "node/relay_session.h"
#include "relay/probe_limiter.h"
#include "relay/rate_limiter.h"
#include "relay/session_admission.h"

namespace pave {

class LoopQueue;
class UdpPort;

struct RelayConfig {
    uint32_t presence_ttl_s = 600;
    uint32_t capacity = 64;        // established sessions
    uint32_t pending_sessions = 64;  // unvalidated (punching) sessions, apart from capacity
    uint32_t per_client_ip = 4;    // established sessions per client IPv4 address / IPv6 /64
    bool allow_private_endpoints = false;
    // Accept client candidates on private addresses (default: the process-wide --lan-candidates).
    bool lan_candidates = pave::lan_candidates();
    uint32_t fwmark = 0;
    SessionTimers timers;
    // A session may wait for its first WireGuard handshake and stay without WireGuard traffic
    // longer than the gate's defaults: control keepalives are cheap, a new rendezvous is not.
    GateLimits gate = [] {
        GateLimits g;
        g.handshake_timeout = std::chrono::minutes(5);
        g.idle_timeout = std::chrono::minutes(15);
        return g;
    }();
    double offers_per_second = 200;  // trial decryptions per second
    size_t offer_queue = 256;
};

class RelayService {
public:
    using Clock = std::chrono::steady_clock;
    using CandidatesFn = std::function<std::vector<Endpoint>()>;
    // Every address of the host (all interfaces, any family): refused as endpoints and
    // candidates. Default: host_addresses().
    using HostAddressesFn = std::function<std::vector<Endpoint>()>;

    enum class Intake { wrong_size, queue_full, rate_deferred, not_for_us, stale, replayed, refused, accepted,
                        answer_failed, evicted, refused_at_validation, count_ };
    static const char* to_string(Intake i);

    RelayService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, const Ed25519Key& key, UdpPort& port,
                 const RelayConfig& cfg, CandidatesFn candidates, std::vector<Endpoint> own_addresses,
                 HostAddressesFn host_addresses = {});
    ~RelayService();

    // Loop thread, about once a second.
    void tick(uint64_t now_s);
    // From the shared port. Return true if a session took the datagram.
    bool on_control(ByteView wire, const Endpoint& from);
    // False when no established session has `from` as its bound client address.
    bool on_wireguard(ByteView pkt, const Endpoint& from);

    uint64_t period_of(uint64_t now_s) const { return now_s / period_secs_; }
    unsigned bucket() const { return bucket_; }
    DhtKey current_inbox_key(uint64_t now_s) const { return inbox_key(bucket_, period_secs_, period_of(now_s)); }
    uint64_t publications() const { return publications_; }
    uint64_t intake(Intake i) const { return intake_[size_t(i)]; }
    uint64_t decrypt_cpu_ns() const { return decrypt_cpu_ns_; }
    size_t queued_offers() const { return offers_.size(); }
    std::string sessions_text() const;
    size_t session_count() const { return sessions_.size(); }
    const SessionAdmission& admission() const { return admission_; }
    // End of a loop iteration: send what the data path queued.
    void flush_batches();

private:
    struct QueuedOffer {
        Bytes value;
        uint64_t period;
    };
    void rotate(uint64_t now_s);
    void publish(uint64_t now_s);
    void listen_inboxes(uint64_t now_s);
    void enqueue(Bytes value, uint64_t period);
    void drain_offers();
    Intake handle_offer(const QueuedOffer& q);
    void answer(const OpenedOffer& o, const Answer& a);
    void arm_timer();
    void on_session_timer();
    void reap(Clock::time_point now);
    // After a session was fed: tell the admission what it heard and validated.
    void update_admission(const ByteArray<8>& id, RelaySession& s, Clock::time_point now);
    void refresh_own_addresses(Clock::time_point now);

    uv_loop_t* loop_;
    DhtNode& dht_;
    LoopQueue& queue_;
    const Ed25519Key& key_;
    UdpPort& port_;
    RelayConfig cfg_;
    CandidatesFn candidates_;
    std::vector<Endpoint> own_addresses_;  // the bound sockets
    HostAddressesFn host_addresses_;
    std::vector<Endpoint> host_cache_;
    Clock::time_point host_cache_at_{};
    uint32_t ttl_s_, period_secs_;
    unsigned bucket_;
    std::map<uint64_t, X25519Key> inbox_keys_;
    std::map<uint64_t, size_t> inbox_listens_;  // period -> listen token
    uint64_t last_publish_ = 0, published_period_ = UINT64_MAX, publications_ = 0;

    std::deque<QueuedOffer> offers_;
    TokenBucket decrypt_budget_;
    SessionAdmission admission_;
    ProbeLimiter probe_limiter_;
    uint64_t unsolicited_ended_ = 0;  // bytes of unanswered probes of sessions that ended
    std::array<uint64_t, size_t(Intake::count_)> intake_{};
    uint64_t decrypt_cpu_ns_ = 0;

    DestinationLimiter destinations_;
    SendBatch to_clients_;
    std::map<ByteArray<8>, std::unique_ptr<RelaySession>> sessions_;  // by conn id
    std::unordered_map<Endpoint, RelaySession*, EndpointHash> by_peer_;  // data path lookup
    uv_timer_t* timer_ = nullptr;
    uv_timer_t* drain_timer_ = nullptr;
};

}  // namespace pave
