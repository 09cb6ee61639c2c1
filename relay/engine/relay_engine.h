// The relay role, I/O-free: presence in the directory, the sealed-rendezvous inbox, the
// sessions it relays and the STUN answers of its port. It is fed datagrams, DHT values and
// time, and talks to the world only through its RelayEngineHost (relay/engine/relay_engine_host.h);
// node/relay_service.h adapts it to libuv and OpenDHT, tests/sim/ drives it in memory.
//
// Presence: a signed record announced (a permanent put: the DHT re-sends it to whichever nodes
// become the closest) on every replica key of the relay's bucket once the DHT is connected,
// replaced (the previous announcement withdrawn) three times per TTL and at every period; a
// first round nobody acknowledged is announced again after a backoff (2 s, doubling, at most
// 60 s). The inbox keys it names rotate every period, the previous, current and next periods' keys are
// held and older ones erased, so a later leak exposes no past client.
// Inbox: the relay listens on every inbox shard key (dht/inbox_keys.h) of the periods a client
// can seal an offer to: the current one, the previous one while a record naming it has not
// expired, and the next one from kNextPeriodLead before it begins (a client takes the period
// from the relay's own record, so no other period can carry an offer for this relay). The
// listens begin once a storer acknowledged the first presence announcement (or kInboxFallback
// after it was made): before that no client can know the inbox keys, and an offer put
// meanwhile waits at the shard's storers, which hand it over when the listen begins. So a
// relay's start searches for its presence first and for the 8 shard keys, which every relay
// shares, after. Their values are queued (bounded) and trial-decrypted at a bounded rate. What is admitted (timestamps, replay, VPN
// endpoint and candidates under the endpoint policy, capacity, per-address limits) is decided
// by SessionAdmission; stale and replayed offers are not answered. The answer to an accepted or
// refused offer never touches the DHT: it is held (bounded, kAnswerHold) until a hello with the
// offer's id arrives on the shared port (relay/wire/rendezvous_frame.h) and is sent to that
// hello's source, one answer per hello, at most kAnswerSends times.
// Sessions: unvalidated ones live in a budget of their own and have no VPN socket; the socket
// is opened (RelayEngineHost::vpn_open) once the client's address is validated and admitted.
// WireGuard crosses byte for byte through the session's Gate: from the bound client address
// to the VPN socket, and back. Probes to candidates that have not answered are bounded per
// session (the punch credit) and per destination across sessions (ProbeLimiter). Ended
// sessions are reaped: their slot is returned and their VPN socket closed.
// STUN: binding requests on the port are answered within StunAnswerer's budget.
//
// Time: every entry point takes the EngineTime of the call; the engine reads no clock. After
// any call the host should call on_tick at next_deadline() (on_tick returns it too).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/ed25519_key.h"
#include "crypto/x25519.h"
#include "dht/bucket_keys.h"
#include "dht/inbox_keys.h"
#include "dht/rendezvous_blob.h"
#include "relay/engine/relay_engine_host.h"
#include "relay/gate.h"
#include "relay/probe_limiter.h"
#include "relay/rate_limiter.h"
#include "relay/session.h"
#include "relay/session_admission.h"
#include "relay/stun_answerer.h"
#include "relay/wire/rendezvous_frame.h"

namespace pave {

struct RelayEngineConfig {
    uint32_t presence_ttl_s = 600;
    uint32_t capacity = 64;          // established sessions
    uint32_t pending_sessions = 64;  // unvalidated (punching) sessions, apart from capacity
    uint32_t per_client_ip = 4;      // established sessions per client IPv4 address / IPv6 /64
    bool allow_private_endpoints = false;
    bool lan_candidates = false;     // accept client candidates on private addresses
    uint32_t fwmark = 0;             // for the sockets towards the VPN
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
    // The first presence announcement waits this long after the first tick, and shutdown
    // withdraws the record (else it expires within its TTL). A relay role beside a client uses a
    // random delay and no withdrawal, so that neither its record's birth nor its end marks the
    // moment the client's tunnel starts or stops (README, "Every user gives back").
    uint32_t announce_delay_s = 0;
    bool withdraw_on_shutdown = true;
};

class RelayEngine {
public:
    using Clock = std::chrono::steady_clock;
    using ConnId = ByteArray<8>;

    // What became of each value that reached the inbox.
    enum class Intake { wrong_size, queue_full, rate_deferred, not_for_us, stale, replayed, refused, accepted,
                        answer_failed, evicted, refused_at_validation, count_ };
    static const char* to_string(Intake i);

    // Housekeeping (presence, key rotation, pruning, reaping) runs at most this often.
    static constexpr auto kHousekeeping = std::chrono::seconds(1);
    // A presence announcement nobody acknowledged is made again after this, doubling up to the max.
    static constexpr auto kAnnounceBackoffMin = std::chrono::seconds(2);
    static constexpr auto kAnnounceBackoffMax = std::chrono::seconds(60);
    // A queue left waiting for decryption budget is drained again this soon.
    static constexpr auto kDrainRetry = std::chrono::milliseconds(20);
    // An answer waits this long for the client's hello, and goes out at most kAnswerSends times.
    static constexpr auto kAnswerHold = std::chrono::seconds(10);
    // The next period's inbox shards are listened on from this long before it begins (at most a
    // quarter of the period), so that the listens are in place when the record naming it goes out.
    static constexpr uint32_t kNextPeriodLead = 30;
    // The inbox listens begin at the latest this long after the first presence announcement.
    static constexpr auto kInboxFallback = std::chrono::seconds(5);
    static constexpr unsigned kAnswerSends = 4;

    // bound: the addresses of the relay's own sockets (refused as endpoints and candidates).
    // key and host must outlive the engine. Nothing happens before the first on_tick.
    RelayEngine(RelayEngineHost& host, const Ed25519Key& key, const RelayEngineConfig& cfg, std::vector<Endpoint> bound);
    ~RelayEngine();  // calls nothing on the host: call shutdown() first
    RelayEngine(const RelayEngine&) = delete;
    RelayEngine& operator=(const RelayEngine&) = delete;

    // A datagram on the shared port: a control frame of a session, WireGuard from a session's
    // bound client address, or a STUN binding request. False when nothing took it.
    bool on_datagram(const EngineTime& now, const Endpoint& from, ByteView data);
    // On a session's VPN socket: a datagram from the VPN endpoint, or ICMP port unreachable.
    void on_vpn_datagram(const EngineTime& now, const ConnId& id, ByteView data);
    void on_vpn_unreachable(const EngineTime& now, const ConnId& id);
    // Values of one of the engine's DHT listens (see EngineHost::dht_listen).
    void on_dht_values(const EngineTime& now, const DhtKey& key, DhtListenToken token, std::vector<Bytes> values,
                       bool expired);
    // The first round of an announcement (RelayEngineHost::dht_announce) ended: ok when a storer
    // acknowledged it. Outcomes of replaced announcements are ignored.
    void on_announce_done(const EngineTime& now, const DhtKey& key, uint64_t id, bool ok);
    // The DHT has just joined (RelayEngineHost::dht_connected turned true): presence and inbox
    // listens are looked at now rather than at the next housekeeping.
    void on_dht_joined(const EngineTime& now);
    // Runs what is due; returns next_deadline().
    Clock::time_point on_tick(const EngineTime& now);
    Clock::time_point next_deadline() const;
    // Closes every session (CLOSE frames to the clients, VPN sockets closed).
    void shutdown(const EngineTime& now);
    // A graceful stop's first step: CLOSE frames to every client now (they move to their
    // standby relay at once), but WireGuard still crosses for `grace`, so what is in flight
    // (the VPN's answers to packets it got before it roamed) is not lost. False when there
    // is no session to drain. Call shutdown() after `grace`.
    static constexpr auto kDrainGrace = std::chrono::milliseconds(300);
    bool drain(const EngineTime& now, Clock::duration grace = kDrainGrace);

    // Introspection (read-only; for the node's shell and for tests).
    struct SessionView {
        const Session& session;
        const Gate& gate;
        const Endpoint& vpn;
        bool vpn_open;
    };
    std::vector<ConnId> session_ids() const;
    std::optional<SessionView> session(const ConnId& id) const;
    size_t session_count() const { return sessions_.size(); }

    unsigned bucket() const { return bucket_; }
    uint32_t period_secs() const { return period_secs_; }
    uint64_t period_of(uint64_t unix_s) const { return unix_s / period_secs_; }
    // The inbox shard keys of the current period (the relay listens on these and on those of
    // the previous and next periods).
    std::vector<DhtKey> current_inbox_keys(uint64_t unix_s) const {
        std::vector<DhtKey> out;
        for (unsigned s = 0; s < kInboxShards; ++s) out.push_back(inbox_shard_key(s, period_secs_, period_of(unix_s)));
        return out;
    }
    // Answers sent in reply to hellos; hellos with no answer held for their id.
    uint64_t answers_sent() const { return answers_sent_; }
    uint64_t hellos_unmatched() const { return hellos_unmatched_; }
    uint64_t refusal_openers_sent() const { return refusal_openers_sent_; }  // NAT openers sent to a refused offer's candidates
    size_t answers_held() const { return answers_.size(); }
    uint64_t publications() const { return publications_; }
    uint64_t announces_failed() const { return announces_failed_; }
    bool presence_announced() const { return !announced_.empty(); }
    uint64_t intake(Intake i) const { return intake_[size_t(i)]; }
    uint64_t decrypt_cpu_ns() const { return decrypt_cpu_ns_; }
    size_t queued_offers() const { return offers_.size(); }
    // Bytes of unanswered probes, of ended and live sessions.
    uint64_t probe_bytes_unanswered() const;
    const SessionAdmission& admission() const { return admission_; }
    const ProbeLimiter& probe_limiter() const { return probe_limiter_; }
    const StunAnswerer& stun() const { return stun_; }
    // KEYPAIR claims (keypair migration, relay/gate.h) the gates accepted and refused.
    uint64_t claims_accepted() const { return claims_accepted_; }
    uint64_t claims_refused() const { return claims_refused_; }
    const RelayEngineConfig& config() const { return cfg_; }

private:
    struct Entry;
    struct QueuedOffer {
        Bytes value;
        uint64_t period;
    };
    void housekeeping(const EngineTime& now);
    void rotate(uint64_t now_s);
    bool presence_due(const EngineTime& now) const;
    bool announce_allowed(const EngineTime& now) const;
    void publish(const EngineTime& now);
    void withdraw_presence();
    std::vector<Endpoint> record_endpoints();
    bool inbox_listens_due(const EngineTime& now) const;
    void listen_inboxes(uint64_t now_s);
    void enqueue(const EngineTime& now, Bytes value, uint64_t period);
    void drain_offers(const EngineTime& now);
    Intake handle_offer(const EngineTime& now, const QueuedOffer& q);
    void answer(const EngineTime& now, const OpenedOffer& o, const Answer& a);
    void on_hello(const EngineTime& now, const Endpoint& from, const RendezvousFrame& f);
    void on_control(const EngineTime& now, const ConnId& id, Entry& e, ByteView wire, const Endpoint& from);
    bool on_wireguard(const EngineTime& now, const Endpoint& from, ByteView pkt);
    void on_stun(const EngineTime& now, const Endpoint& from, ByteView data);
    void after_vpn_input(const ConnId& id, Entry& e, bool was_closed, const char* what);
    void update_admission(const ConnId& id, Entry& e, Clock::time_point now);
    void refresh_host_addresses(Clock::time_point now);
    void run_sessions(Clock::time_point now);
    void reap(Clock::time_point now);
    using SessionMap = std::map<ConnId, std::unique_ptr<Entry>>;
    SessionMap::iterator end_session(SessionMap::iterator it, Clock::time_point now);
    void emit(EngineEvent::Level level, std::string message);

    RelayEngineHost& host_;
    const Ed25519Key& key_;
    RelayEngineConfig cfg_;
    std::vector<Endpoint> bound_;
    std::vector<Endpoint> host_cache_;
    std::optional<Clock::time_point> host_cache_at_;
    uint32_t ttl_s_, period_secs_;
    unsigned bucket_;
    std::map<uint64_t, X25519Key> inbox_keys_;
    std::map<std::pair<uint64_t, unsigned>, DhtListenToken> inbox_listens_;  // (period, shard) -> listen token
    std::map<uint64_t, uint64_t> named_until_;  // period -> when the last record naming it expires (unix s)
    bool presence_stored_ = false;                     // a storer acknowledged an announcement
    std::optional<Clock::time_point> first_announce_;  // kInboxFallback counts from here
    struct HeldAnswer {
        Bytes frame;
        Clock::time_point until{};
        unsigned sends = 0;
    };
    std::map<HelloId, HeldAnswer> answers_;
    std::optional<Clock::time_point> first_tick_;  // announce_delay_s counts from here
    uint64_t answers_sent_ = 0, hellos_unmatched_ = 0, refusal_openers_sent_ = 0;
    uint64_t last_publish_ = 0, published_period_ = UINT64_MAX, rotated_period_ = UINT64_MAX, publications_ = 0;
    std::vector<Endpoint> published_endpoints_;
    std::map<DhtKey, uint64_t> announced_;  // replica key -> the value id announced there
    std::optional<Clock::time_point> announce_retry_at_;
    std::chrono::seconds announce_backoff_{kAnnounceBackoffMin};
    uint64_t announces_failed_ = 0;
    std::optional<Clock::time_point> next_housekeeping_;

    std::deque<QueuedOffer> offers_;
    std::optional<Clock::time_point> drain_at_;
    TokenBucket decrypt_budget_;
    SessionAdmission admission_;
    ProbeLimiter probe_limiter_;
    DestinationLimiter destinations_;
    StunAnswerer stun_;
    uint64_t unsolicited_ended_ = 0;  // bytes of unanswered probes of sessions that ended
    std::array<uint64_t, size_t(Intake::count_)> intake_{};
    uint64_t decrypt_cpu_ns_ = 0;
    uint64_t claims_accepted_ = 0, claims_refused_ = 0;

    SessionMap sessions_;
    std::unordered_map<Endpoint, Entry*, EndpointHash> by_peer_;  // data path lookup
};

}  // namespace pave
