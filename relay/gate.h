// The relay gate: decides, packet by packet, what a relay session forwards between a
// client and its VPN endpoint. I/O-free; the caller passes the time in.
//
// The relay forwards WireGuard byte for byte and must never become an open proxy or an
// amplifier. The gate enforces:
//  - only WireGuard-shaped datagrams cross, both ways (relay/wire/wireguard_shape.h);
//  - the session is *locked* until the endpoint answers with a handshake response whose
//    receiver index is the sender index of an initiation the client sent through this gate.
//    While locked: from the client only initiations; from the endpoint only a handshake
//    response or a cookie reply answering such an initiation;
//  - every handshake response and cookie reply, locked or not, must answer a handshake message
//    that crossed the gate the other way at most `answer_window` (2 s) earlier and has not been
//    answered yet: a response answers an initiation, a cookie reply an initiation or a
//    response, each message at most once;
//  - initiations are rate-limited per session and direction (burst 5, then 1/s by default) and
//    client initiations, while locked, also per destination across all sessions
//    (DestinationLimiter). Once unlocked, the endpoint has accepted this client, so its rekeys
//    (every 2 min) must not be starved by strangers using up the destination's budget;
//  - while locked, an endpoint that sends a datagram that is not WireGuard (or whose port is
//    closed: ICMP port unreachable) is not a WireGuard server: the session closes;
//  - after unlock, client transport data crosses freely only while the endpoint's transport
//    data (keepalives included) was forwarded within kLiveness (15 s); otherwise, the unlocking
//    handshake included, it draws from a small bucket (kLapseBurst, then kLapseRate);
//  - transport data in both directions shares the relay's capacity with the other active
//    sessions (ForwardShare): the excess is dropped and counted, no session is cut for volume;
//  - the session expires when idle.
//
// Amplification bound while locked: every datagram forwarded endpoint -> client answers a
// distinct initiation forwarded client -> endpoint and is smaller than it (92 or 64 bytes
// against 148), so packets_to_client <= packets_to_endpoint and bytes_to_client <
// bytes_to_endpoint hold for as long as the session is locked.
//
// The port sweep, and why what is left is no proxy.
// The client may name any UDP service as its "VPN" and forge the endpoint's answer: it knows
// the receiver index (it chose its initiation's sender index), and it can send datagrams with
// the service's source address to the relay. The relay's socket towards the endpoint is
// connect()ed, so the only secret the relay holds is that socket's local port; nothing in a
// WireGuard message can be checked without the keys. So:
//  1. The port is drawn afresh for every session, uniformly from 1024-65535 (64,512 ports,
//     node/relay_session.cpp), not from the kernel's ephemeral range (28,232 ports on Linux).
//     A forged response must hit it: a sweep takes up to 64,512 datagrams of 92 bytes (5.9 MB
//     of UDP payload, about 7.7 MB on the wire), 32,256 on average.
//  2. Each guess must land within answer_window of an initiation that crossed the gate and
//     answer it first. The attacker can keep a window open by sending an initiation each
//     second, so the window does not stop a patient sweep, but every window costs a
//     forwarded initiation, which the per-session and per-destination budgets cap (a
//     destination gets at most 10 + 2/s initiations from all locked sessions together), and a
//     guess aimed at an older initiation is worth nothing. A real WireGuard server answers
//     within one round trip; WireGuard itself retries after 5 s with a fresh index, so a later
//     answer is of no use to it anyway.
//  3. Services that answer what they receive (most UDP services: DNS, NTP, game servers...)
//     answer the first forwarded initiation with a datagram that is not WireGuard, and a
//     closed port with ICMP port unreachable: the locked session closes on it, one round trip
//     after the first initiation, long before a sweep of tens of thousands of datagrams is
//     through. What is left to aim at is a service that stays silent (or echoes).
//  4. Once a forged response hits, the attacker knows the port (he can write it into the
//     response's sender index) and can forge anything the endpoint could send: the relay
//     cannot tell him from a real server for the rest of the session. What he then has is a
//     one-way channel to the service, at his own expense: every byte the relay delivers to
//     the endpoint is a byte he sent to the relay (no amplification, per byte delivered he
//     spends at least one), answers of the service do not come back (not WireGuard-shaped, or
//     not on a keypair the gate knows), and the channel carries only WireGuard-shaped data
//     (type 4, three zero bytes, a length of 32 + 16n). Whoever can run the sweep can forge
//     source addresses, and so can already send the service datagrams with the relay's
//     address as their source, without the relay. The relay gives him nothing he lacks.
//  5. What it costs the relay is bounded: a service that stays silent gets at most
//     kLapseBurst + kLapseRate x t from the session (64 KiB, then 8 KiB/s: 7.3 MB over a
//     15-minute idle timeout), unless the attacker keeps forging the service's transport data
//     to the found port (at least one datagram per 15 s); and the session's transport data is
//     held to its fair share of the relay's capacity (ForwardShare).
// Keypair migration (a client moving a live tunnel from a relay that died to this one).
// This gate never saw the keypair's handshake, so by the rules above it would drop the
// keypair's transport data until WireGuard re-handshakes (up to ~15 s later). Instead:
//  - the client names the live keypair in an authenticated KEYPAIR control frame (claim_keypair):
//    the index the VPN's transport data carries (the client's) and the one its own carries (the
//    VPN's); the two must differ, so a service that echoes what it receives can never send back
//    a message addressed to the client's index;
//  - while locked, client transport data addressed to the named VPN index crosses under a small
//    budget, kClaimBudgetBytes and kClaimBudgetPackets for the whole session, however many
//    claims it makes (at most kMaxClaims, each distinct claim taking one initiation from the
//    destination's budget of DestinationLimiter, so claims from many sessions together are
//    paced like initiations), and every claimed datagram also takes its size from the
//    destination address's claimed-data budget shared by all sessions of this relay
//    (DestinationLimiter::kClaimedBurstBytes, then kClaimedBytesPerSecond: 32 KiB, then 2 KiB/s),
//    so many sessions together give a target no more than that;
//  - the session unlocks, as on a handshake, when the endpoint sends a transport message
//    addressed to the named client index within answer_window of a claimed datagram forwarded
//    to it (or a handshake response answering an initiation, as before). Then both indices are
//    the keypair's, and the endpoint counts as heard.
// What a non-WireGuard target gets: at most the budget (16 KiB, 32 datagrams) per session,
// WireGuard-shaped (type 4 with the named index), and, as for a handshake, a locked session
// closes on the first datagram from the endpoint that is not WireGuard or on port unreachable.
// A target that answers nothing, or echoes, never unlocks the session: an echo carries the VPN
// index, not the client's, and no claim may name as the client's index a VPN index that an
// earlier claim of the session named (the client's data to it crossed, so its echo carries it). Forging the unlocking message takes what forging a handshake
// response takes (points 1 and 4 above: the relay's secret port towards the endpoint), and
// gives what that gives: nothing an attacker able to spoof lacks (the namespace lab runs these
// attacks on a real relay: tests/integration/test_migration_gate_lab.py). Amplification while locked:
// the one unlocking datagram answers at least one datagram forwarded within answer_window, so
// packets_to_client <= packets_to_endpoint still holds; bytes may exceed by that one datagram.
//
// A real WireGuard server meets every one of these: it answers an initiation within a round
// trip, never sends anything that is not WireGuard, and while it receives data it sends
// something back within 10 s (a passive keepalive if nothing else). The one honest case that
// meets the lapse bucket is a tunnel that starts a one-way upload (after its handshake, or after
// more than 15 s without hearing from the server): it is held to the bucket until the server's
// next datagram, at most about 10 s. A TCP flow or a ping is answered within a round trip.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"
#include "relay/forward_share.h"
#include "relay/rate_limiter.h"
#include "relay/wire/wireguard_shape.h"

namespace pave {

struct GateLimits {
    using duration = std::chrono::steady_clock::duration;

    // Client handshake initiations per session: burst, then per second.
    double init_burst = 5;
    double init_rate = 1;
    // A handshake response or cookie reply must arrive this soon after what it answers.
    duration answer_window = std::chrono::seconds(2);
    // A locked session expires this long after it was created, or after the client last kept
    // it (keep_locked: its control keepalives, for a standby session that waits to be used).
    duration handshake_timeout = std::chrono::seconds(60);
    // An unlocked session expires when either side has had nothing forwarded for this long.
    // WireGuard answers received data within 10 s (passive keepalive) and rekeys every
    // 2 min while in use, so a live tunnel never stays quiet that long one way.
    duration idle_timeout = std::chrono::seconds(180);
    // The relay's forwarding capacity: gates made from copies of these limits share it.
    std::shared_ptr<ForwardShare> share = std::make_shared<ForwardShare>();
};

// Handshake initiations towards one VPN address, shared by all sessions to it (port ignored),
// so many sessions cannot together flood one endpoint with initiations through this relay.
// The table is bounded; when it is full and no entry has gone idle a new destination is refused.
class DestinationLimiter {
public:
    using time_point = std::chrono::steady_clock::time_point;

    // Claimed-keypair data (see Gate) a destination address may receive from all sessions of
    // this relay before it answers: two sessions' whole claim budgets at once, then 2 KiB/s.
    static constexpr double kClaimedBurstBytes = 32 * 1024;
    static constexpr double kClaimedBytesPerSecond = 2 * 1024;

    explicit DestinationLimiter(double burst = 10, double rate_per_s = 2, size_t max_destinations = 4096,
                                double claimed_burst_bytes = kClaimedBurstBytes,
                                double claimed_bytes_per_s = kClaimedBytesPerSecond);

    // Takes one initiation for `vpn`; true if allowed.
    bool take(const Endpoint& vpn, time_point now);
    // Takes `bytes` of claimed-keypair data for `vpn`'s address; true if allowed.
    bool take_claimed(const Endpoint& vpn, size_t bytes, time_point now);
    // Drops destinations that have been idle long enough to hold a full budget again.
    size_t prune(time_point now) { return limiter_.prune(now) + claimed_.prune(now); }
    size_t size() const { return limiter_.size(); }

private:
    KeyedRateLimiter limiter_;
    KeyedRateLimiter claimed_;
};

class Gate {
public:
    using time_point = std::chrono::steady_clock::time_point;
    using duration = std::chrono::steady_clock::duration;

    enum class Verdict {
        forward,
        drop_not_wireguard,     // not WireGuard-shaped
        drop_locked,            // a message other than a handshake while the session is locked
        drop_rate_session,      // initiation over this session's budget
        drop_rate_destination,  // initiation over the destination's budget
        drop_share,             // transport data over the session's share of the relay's capacity
        drop_closed,            // closed or expired
        drop_unknown_index,     // response or cookie reply answering no pending initiation
        drop_late_answer,       // response or cookie reply after the answer window
        drop_no_return,         // client data while the endpoint is silent, over the lapse bucket
        drop_claim_budget,      // client data on a claimed keypair while locked, over the session's or the destination's budget
    };
    static constexpr size_t kVerdictCount = 11;
    // Handshake messages remembered per direction for matching answers; older ones are forgotten.
    static constexpr size_t kPendingHandshakes = 16;
    // While locked, this many datagrams from the endpoint that are not WireGuard (or ICMP port
    // unreachable reports) close the session: the endpoint is no WireGuard server, which never
    // sends anything else. One: a service that answers must not get a second initiation.
    static constexpr uint32_t kMaxEndpointJunk = 1;
    // After unlock, client transport data crosses freely while transport data from the endpoint
    // was forwarded this recently: WireGuard answers received data within 10 s (its passive
    // keepalive), plus round trips and timer slack. A handshake does not count: WireGuard's
    // responder sends no data before the initiator's first, so the session starts lapsed.
    static constexpr auto kLiveness = std::chrono::seconds(15);
    // Past kLiveness, client transport data draws from this bucket: enough for the first
    // packets that make the endpoint answer, and for keepalives; little for anything else.
    static constexpr double kLapseBurst = 64 * 1024;
    static constexpr double kLapseRate = 8 * 1024;  // bytes per second
    // The share bucket holds this many seconds of the session's share, and at least kShareMinBurst.
    static constexpr double kShareBurstSeconds = 0.25;
    static constexpr double kShareMinBurst = 64 * 1024;

    // Keypair migration: what a locked session may carry on a claimed keypair before the
    // endpoint answers on it, and how many distinct claims a session may make.
    static constexpr uint64_t kClaimBudgetBytes = 16 * 1024;
    static constexpr uint32_t kClaimBudgetPackets = 32;
    static constexpr uint32_t kMaxClaims = 4;

    enum class Claim {
        accepted,          // the keypair is claimed (or was already, with these indices)
        unlocked,          // the session is unlocked already: nothing to do
        same_index,        // client and VPN index equal (an echo would unlock it): refused
        too_many,          // kMaxClaims distinct claims made already
        rate_destination,  // the destination's initiation budget is spent
        closed,
    };

    // `destinations` is shared between sessions and must outlive the gate.
    Gate(const GateLimits& limits, DestinationLimiter& destinations, const Endpoint& vpn, time_point now);
    Gate(const Gate&) = delete;
    Gate& operator=(const Gate&) = delete;

    // Client -> VPN.
    Verdict from_client(ByteView pkt, time_point now);
    // VPN -> client.
    Verdict from_endpoint(ByteView pkt, time_point now);

    // The socket towards the endpoint reported ICMP port unreachable.
    void endpoint_refused(time_point now);
    // The client's authenticated control session is alive: a locked session (a standby, held
    // ready for failover) does not expire while it is. It forwards nothing more for it.
    void keep_locked(time_point now) {
        if (!unlocked_ && !closed_) created_ = std::max(created_, now);
    }
    // The client names the live keypair (see "Keypair migration" above).
    Claim claim_keypair(uint32_t client_index, uint32_t vpn_index, time_point now);
    // Claimed-keypair datagrams forwarded before unlock (bytes, packets), and whether the
    // session was unlocked by the endpoint's transport data on a claimed keypair.
    uint64_t claim_bytes() const { return claim_bytes_; }
    uint32_t claim_packets() const { return claim_packets_; }
    bool unlocked_by_claim() const { return unlocked_by_claim_; }

    bool unlocked() const { return unlocked_; }
    void close() { closed_ = true; }
    bool closed() const { return closed_; }
    // True once closed or past its timeout: the owner then frees the session.
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
    uint32_t endpoint_junk() const { return endpoint_junk_; }

private:
    // Sender indices of recent handshake messages that crossed one way, each answerable once:
    // an initiation by a response or a cookie reply, a response by a cookie reply.
    class PendingHandshakes {
    public:
        enum class Match { answered, late, none };
        void add(uint32_t sender_index, WgType type, time_point now);
        // Marks the oldest unanswered message with this index that `answer` may answer, sent
        // at most `window` before `now`, as answered. `late` if the only candidates are older.
        Match answer(uint32_t receiver_index, WgType answer, time_point now, duration window);

    private:
        struct Slot {
            uint32_t index = 0;
            WgType type = WgType::initiation;
            bool pending = false;
            time_point at{};
        };
        std::array<Slot, kPendingHandshakes> slots_{};
        size_t next_ = 0;
    };

    std::optional<Verdict> precheck(ByteView pkt, time_point now, std::optional<WgMessage>& msg);
    Verdict decide_client(ByteView pkt, time_point now);
    Verdict decide_endpoint(ByteView pkt, time_point now);
    Verdict finish(Verdict v, ByteView pkt, bool to_endpoint, time_point now);
    Verdict answered(PendingHandshakes::Match m);
    // Transport data: the session's share of the relay's capacity.
    bool take_share(size_t bytes, time_point now);
    void note_endpoint_junk();

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
    time_point endpoint_heard_{};  // transport data from the endpoint last forwarded
    struct KeypairClaim {
        uint32_t client_index = 0, vpn_index = 0;
    };
    std::optional<KeypairClaim> claim_;
    uint32_t claims_ = 0;
    // Every VPN index a claim named: the client's data to them crossed to the endpoint, so an
    // echo of it carries one of them; never accepted as the client's index of a later claim.
    std::array<uint32_t, kMaxClaims> claimed_vpn_{};
    uint64_t claim_bytes_ = 0;
    uint32_t claim_packets_ = 0;
    std::optional<time_point> claim_sent_;  // a claimed datagram last forwarded to the endpoint
    bool unlocked_by_claim_ = false;
    TokenBucket lapse_;
    double share_tokens_ = 0;
    time_point share_last_{};
    uint64_t share_seen_ = 0;  // ForwardShare's marker for this session
    uint32_t endpoint_junk_ = 0;
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
