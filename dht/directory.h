// The relay directory as one node sees it: verified, unexpired presence records.
//
// I/O-free: values come in as bytes with the bucket they were read from, time is passed in.
// Every value is judged once: a bounded cache of value digests remembers the verdict, so a
// flood of junk or forged records costs one parse (and at most one signature check) each,
// not one per listing.
//
// A Sybil flood cannot lock honest relays out: keys are free, so anyone can sign any number of
// valid records, and a table that refused newcomers when full would belong to whoever filled
// it first. Instead a verified newcomer always gets in; when the table is full it takes the
// place of a record chosen uniformly at random among those not protected. Protected are the
// relays this node has seen answer a rendezvous (note_answered, at most kMaxAnswered, at most
// half the table). What this guarantees, whatever an attacker publishes:
//   - a verified honest record is admitted the moment it is read (no `full` lock-out);
//   - with a table of n unprotected places and k fake records admitted after it, it is still
//     there with probability (1 - 1/n)^k, about e^(-k/n): about 37 % after n fakes, and every
//     re-publication of the relay (three per TTL) admits it afresh;
//   - relays that have answered this node are never evicted, and clients try them first.
// What it does not guarantee: that a client picking uniformly finds an honest relay among
// many fakes quickly; the client therefore asks several relays at once (ClientService).
#pragma once
#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dht/presence_record.h"

namespace pave {

struct RelayInfo {
    Ed25519Public node_pub{};
    ByteArray<32> inbox_pub{};
    uint32_t period_secs = 0;
    uint64_t period = 0;
    uint32_t capacity = 0;
    uint64_t expires = 0;
    unsigned bucket = 0;
    bool answered = false;  // this node has seen the relay answer a rendezvous
    std::vector<Endpoint> endpoints;  // the relay's public addresses, from its record
    uint64_t first_seen = 0;  // unix seconds this node first accepted a record of the relay
};

// How many first sightings a directory remembers (they outlive the records, for relay ages).
inline constexpr size_t kMaxFirstSeen = 8192;

// Relays remembered as having answered (protected from eviction, tried first).
inline constexpr size_t kMaxAnswered = 64;

class Directory {
public:
    enum class Verdict {
        accepted,       // new relay, or a newer record of a known one
        accepted_evicting,  // accepted into a full table: a random unprotected record made room
        duplicate,      // a value already judged (same bytes)
        stale,          // verified but older than what we hold
        too_large,
        malformed,
        unknown_version,
        bad_signature,
        bad_inbox_key,      // field ranges (presence_record.h)
        bad_period_secs,
        bad_period,
        bad_capacity,
        bad_expires,
        bad_endpoint,
        expired,
        too_far_future,  // expiry beyond the longest TTL we accept
        period_not_current,  // the record's period is not near the current one (clock skew or a fake)
        wrong_bucket,    // a valid record stored under another bucket's key
        self,
        count_
    };
    static const char* to_string(Verdict v);

    // max_future_s: a record may not claim to live longer than this from now. max_relays is at
    // least 1.
    explicit Directory(std::optional<Ed25519Public> self = std::nullopt, size_t max_relays = 4096,
                       uint64_t max_future_s = 3600);

    Verdict ingest(ByteView value, unsigned bucket, uint64_t now_s);
    // Drops relays whose record expired; returns how many were dropped.
    size_t expire(uint64_t now_s);
    std::vector<RelayInfo> live(uint64_t now_s) const;  // ordered by node key
    // A live relay chosen uniformly at random, never this node itself.
    std::optional<RelayInfo> pick_random(uint64_t now_s) const;
    std::optional<RelayInfo> find(const Ed25519Public& node_pub, uint64_t now_s) const;
    // The relay answered a rendezvous: keep it (never evicted) and mark it in live().
    // Remembered even while it has no record here, up to kMaxAnswered relays (oldest forgotten).
    void note_answered(const Ed25519Public& node_pub);
    bool answered(const Ed25519Public& node_pub) const;
    size_t size() const { return relays_.size(); }
    // When this node first accepted a record of each relay (kept after the record expires, at
    // most kMaxFirstSeen: when full, a relay with no record here is forgotten first).
    const std::map<Ed25519Public, uint64_t>& first_seen() const { return first_seen_; }
    // Sightings from an earlier run (the state dir): the earlier of the two times is kept.
    void import_first_seen(const std::map<Ed25519Public, uint64_t>& seen);
    uint64_t count(Verdict v) const { return counts_[size_t(v)]; }

private:
    Verdict judge(ByteView value, unsigned bucket, uint64_t now_s);
    Verdict judge_fresh(ByteView value, unsigned bucket, uint64_t now_s);
    void remember(const std::string& digest);
    void evict_one();
    void erase(std::map<Ed25519Public, RelayInfo>::iterator it);

    std::optional<Ed25519Public> self_;
    size_t max_relays_;
    uint64_t max_future_s_;
    std::map<Ed25519Public, RelayInfo> relays_;
    std::vector<Ed25519Public> slots_;                 // the keys of relays_, for a uniform pick
    std::map<Ed25519Public, size_t> slot_of_;          // key -> index in slots_
    std::list<Ed25519Public> answered_;                // oldest first, at most kMaxAnswered
    std::map<Ed25519Public, uint64_t> first_seen_;
    uint64_t note_first_seen(const Ed25519Public& pub, uint64_t now_s);
    // digests of values already judged (bounded FIFO)
    std::unordered_map<std::string, bool> seen_;
    std::list<std::string> seen_order_;
    std::array<uint64_t, size_t(Verdict::count_)> counts_{};
};

}  // namespace pave
