// What a relay admits: the decisions on a sealed rendezvous offer once it is opened, and the
// slots of the sessions it opens. I/O-free: fed the offer, the relay's own addresses and the
// time; it answers with a verdict, a refusal code and reason for the client, the candidates
// it may probe, and which session (if any) to close to make room.
//
// An offer is refused when its timestamp is off by more than the allowed skew (silently), its
// session id was seen in that window (silently), its VPN endpoint breaks the endpoint policy,
// none of its candidates passes the candidate policy, the relay carries `capacity`
// established sessions, or every candidate's address group already has `per_client`
// established sessions (the client may try another relay, and backs off from this one).
// Pending sessions never count toward an address group: not by the candidates an offer names
// (anyone can name a victim's address), nor by the source of a frame they heard (the holder
// of a session's keys can spoof that source with one datagram). Only a validated path, an
// established session, says where a client is.
//
// Slots: unvalidated (punching) sessions have a budget of their own, `pending`, apart from the
// `capacity` established ones, so offers naming addresses that never answer cannot fill the
// relay. When the pending budget is full a newcomer takes the slot of the oldest pending
// session that has heard nothing authenticated yet, else of the oldest pending one: at a
// flood of R offers per second a real client has pending/R seconds to send its first probe.
// A pending session's slot is returned when it ends (punching failed) or validates.
// Established sessions are never evicted: a session whose validated address group already
// has `per_client` established sessions, or that validates when `capacity` are established,
// is refused instead (the newcomer, never the older one).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "dht/rendezvous_blob.h"
#include "relay/wire/endpoint.h"
#include "relay/wire/endpoint_policy.h"

namespace pave {

struct AdmissionLimits {
    uint32_t capacity = 64;    // established sessions
    uint32_t pending = 64;     // unvalidated sessions, a budget of their own
    uint32_t per_client = 4;   // established sessions per client address group (IPv4, IPv6 /64)
    bool allow_private_endpoints = false;  // VPN endpoints on private/loopback addresses (labs)
    bool allow_private_candidates = false;  // client candidates on private/loopback addresses
    uint64_t clock_skew_ms = 60000;
    size_t seen_max = 65536;   // session ids remembered for replay detection
};

class SessionAdmission {
public:
    using ConnId = ByteArray<8>;

    enum class Verdict {
        stale,      // timestamp outside the skew: no answer
        replayed,   // session id seen in the window: no answer
        seen_full,  // the replay table is full: no answer (refuse rather than forget)
        refused,    // answer with refuse_code / reason
        accepted,
    };
    struct OfferDecision {
        Verdict verdict = Verdict::refused;
        uint8_t refuse_code = 0;
        std::string reason;
        std::vector<Endpoint> candidates;  // the candidates that passed the policy (accepted only)
        size_t candidates_refused = 0;
        // A refused offer's candidates that pass the policy: where the relay opens its NAT so the
        // client's hellos can fetch the refusal (empty when stale, replayed or seen_full).
        std::vector<Endpoint> reach;
    };
    struct Slot {
        bool ok = false;
        std::optional<ConnId> evicted;  // close this pending session: its slot went to the newcomer
    };
    struct Validation {
        bool ok = false;
        uint8_t refuse_code = 0;  // for the CLOSE frame
        std::string reason;
    };

    explicit SessionAdmission(const AdmissionLimits& limits);

    // An opened offer at unix time now_ms. own: every address of the relay's host (interfaces,
    // public address); own_bound: the relay's sockets (exact address and port).
    OfferDecision check_offer(const Offer& offer, uint64_t now_ms, const std::vector<Endpoint>& own,
                              const std::vector<Endpoint>& own_bound);
    // A pending slot for a session accepted by check_offer (keys derived).
    Slot open(const ConnId& id);
    // The session heard an authenticated frame: it is evicted only after the silent ones.
    void heard(const ConnId& id);
    // The pending session validated `peer`: it becomes established, or is refused (then it is
    // forgotten here and the caller closes it with refuse_code). A session without a pending
    // slot (evicted, unknown) is refused.
    Validation validated(const ConnId& id, const Endpoint& peer);
    // The session ended: its slot is free.
    void remove(const ConnId& id);
    // Forgets session ids older than the replay window.
    void prune(uint64_t now_ms);

    size_t pending() const { return pending_.size(); }
    size_t established() const { return established_.size(); }
    size_t established_from(const Endpoint& client) const;
    bool is_established(const ConnId& id) const { return established_.count(id) != 0; }
    bool is_pending(const ConnId& id) const { return pending_.count(id) != 0; }
    uint64_t evictions() const { return evictions_; }
    uint64_t refused_at_validation() const { return refused_at_validation_; }
    const AdmissionLimits& limits() const { return limits_; }

private:
    struct Pending {
        uint64_t seq = 0;
        bool heard = false;
    };

    AdmissionLimits limits_;
    std::map<ConnId, Pending> pending_;
    std::map<ConnId, Bytes> established_;  // -> the validated address group
    std::map<Bytes, size_t> per_group_;
    std::map<ByteArray<16>, uint64_t> seen_;  // session id -> unix ms first seen
    uint64_t seq_ = 0, evictions_ = 0, refused_at_validation_ = 0;
};

}  // namespace pave
