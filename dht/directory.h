// The relay directory as one node sees it: verified, unexpired presence records.
//
// I/O-free: values come in as bytes with the bucket they were read from, time is passed in.
// Every value is judged once: a bounded cache of value digests remembers the verdict, so a
// flood of junk or forged records costs one parse (and at most one signature check) each,
// not one per listing.
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
};

class Directory {
public:
    enum class Verdict {
        accepted,       // new relay, or a newer record of a known one
        duplicate,      // a value already judged (same bytes)
        stale,          // verified but older than what we hold
        too_large,
        malformed,
        unknown_version,
        bad_signature,
        expired,
        too_far_future,  // expiry beyond the longest TTL we accept
        wrong_bucket,    // a valid record stored under another bucket's key
        self,
        full,
        count_
    };
    static const char* to_string(Verdict v);

    // max_future_s: a record may not claim to live longer than this from now.
    explicit Directory(std::optional<Ed25519Public> self = std::nullopt, size_t max_relays = 4096,
                       uint64_t max_future_s = 3600);

    Verdict ingest(ByteView value, unsigned bucket, uint64_t now_s);
    // Drops relays whose record expired; returns how many were dropped.
    size_t expire(uint64_t now_s);
    std::vector<RelayInfo> live(uint64_t now_s) const;  // ordered by node key
    // A live relay chosen uniformly at random, never this node itself.
    std::optional<RelayInfo> pick_random(uint64_t now_s) const;
    std::optional<RelayInfo> find(const Ed25519Public& node_pub, uint64_t now_s) const;
    size_t size() const { return relays_.size(); }
    uint64_t count(Verdict v) const { return counts_[size_t(v)]; }

private:
    Verdict judge(ByteView value, unsigned bucket, uint64_t now_s);
    Verdict judge_fresh(ByteView value, unsigned bucket, uint64_t now_s);
    void remember(const std::string& digest);

    std::optional<Ed25519Public> self_;
    size_t max_relays_;
    uint64_t max_future_s_;
    std::map<Ed25519Public, RelayInfo> relays_;
    // digests of values already judged (bounded FIFO)
    std::unordered_map<std::string, bool> seen_;
    std::list<std::string> seen_order_;
    std::array<uint64_t, size_t(Verdict::count_)> counts_{};
};

}  // namespace pave
