// Path validation and the anti-amplification budget of one session.
//
// An address is bound to a session (at first, and on every re-bind after a NAT change) only
// after path validation: a challenge sent to it comes back, authenticated, from it. Until
// then at most 3x what was received (authenticated) from that address may be sent to it.
// Rendezvous candidates share one small credit (per session, not per candidate) so the punch
// can open our own NAT mapping before anything has arrived from them; every other address
// starts at zero. What an address is sent beyond 3x what it sent is drawn from that credit,
// so an offer naming eight silent candidates costs no more than one naming a single one.
//
// Bounded: at most max_paths addresses are tracked; when full, the oldest unvalidated one is
// evicted (or, if all are validated, the least recently validated one). An evicted address
// starts over with no budget.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"

namespace pave {

class PathValidator {
public:
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr size_t kAmplification = 3;
    static constexpr std::chrono::seconds kChallengeLifetime{10};
    // Outstanding challenges remembered per address (the newest ones).
    static constexpr size_t kChallengesPerPath = 4;

    // How a send to an address is paid for.
    enum class Allowance {
        refused,    // beyond its budget
        validated,  // a validated path: no limit here
        earned,     // within 3x what the address sent
        credit,     // (partly) drawn from the candidates' shared credit: unsolicited
    };

    // candidate_credit_bytes: the credit all candidates share (0: none).
    explicit PathValidator(size_t max_paths = 16, size_t candidate_credit_bytes = 0);

    // A candidate named in the authenticated rendezvous: may draw on the shared credit.
    void add_candidate(const Endpoint& ep);
    // An authenticated frame of `bytes` bytes came from `from`: adds 3x to its budget.
    void on_received(const Endpoint& from, size_t bytes);
    // Validated paths: validated. Others: earned iff sent + bytes <= 3 x received + what the
    // path drew from the credit so far; else credit iff it is a candidate and the shared credit
    // left covers the rest; else refused (counted in sends_refused_budget()).
    Allowance allowance(const Endpoint& to, size_t bytes) const;
    bool may_send(const Endpoint& to, size_t bytes) const { return allowance(to, bytes) != Allowance::refused; }
    // The part of a send of `bytes` to `to` that would be drawn from the shared credit.
    size_t credit_needed(const Endpoint& to, size_t bytes) const;
    // Records a send; the part beyond the path's earned budget is drawn from the credit.
    void on_sent(const Endpoint& to, size_t bytes);

    // Issues a fresh random challenge for `to` (remembered with its time) to put in a probe.
    ByteArray<16> challenge(const Endpoint& to, time_point now);
    // A probe_ack from `from` carried `challenge`: true iff that challenge was issued to
    // exactly `from` less than kChallengeLifetime ago; then `from` is validated and the
    // challenge is spent. Otherwise counted in acks_rejected().
    bool on_ack(const Endpoint& from, const ByteArray<16>& challenge, time_point now);

    bool validated(const Endpoint& ep) const;
    // The most recently validated path (after a re-bind, the new address), if any.
    std::optional<Endpoint> best() const;
    // Drops every unvalidated address with its budget and challenges (e.g. once bound).
    void forget_unvalidated();

    size_t tracked() const { return paths_.size(); }
    size_t max_paths() const { return max_paths_; }
    uint64_t acks_rejected() const { return acks_rejected_; }
    uint64_t sends_refused_budget() const { return sends_refused_budget_; }
    // Bytes sent to unvalidated addresses beyond what they earned (drawn from the credit).
    uint64_t credit_spent() const { return credit_total_ - credit_left_; }
    uint64_t credit_left() const { return credit_left_; }

private:
    struct Challenge {
        ByteArray<16> value{};
        time_point issued{};
        bool live = false;
    };
    struct Path {
        Endpoint ep;
        uint64_t received = 0;  // bytes
        uint64_t sent = 0;      // bytes
        uint64_t drawn = 0;     // bytes drawn from the shared credit
        bool candidate = false;
        bool validated = false;
        uint64_t created_seq = 0;
        uint64_t validated_seq = 0;
        Challenge challenges[kChallengesPerPath];
        size_t next_challenge = 0;
    };

    Path* find(const Endpoint& ep);
    const Path* find(const Endpoint& ep) const;
    Path& find_or_add(const Endpoint& ep);

    size_t max_paths_;
    uint64_t credit_total_, credit_left_;
    std::vector<Path> paths_;
    uint64_t seq_ = 0;
    uint64_t acks_rejected_ = 0;
    mutable uint64_t sends_refused_budget_ = 0;
};

}  // namespace pave
