// Unsolicited probes per destination, across every session of a node.
//
// A rendezvous names candidate addresses that the node probes before they have sent anything
// (to open its own NAT mapping for the punch). One session's probes are bounded by its
// PathValidator credit; this bounds what many sessions together send to one destination, so
// that many offers naming the same victim cannot aim the node at it. Destinations are grouped
// as a host commonly holds addresses: one IPv4 address, or one IPv6 /64 (address_group()).
//
// Each group has a byte bucket (burst, then rate): a KeyedRateLimiter keyed by the group, failing
// closed. The table is bounded: when it is full, an idle group (bucket full again) is dropped; if
// none is idle the new group is refused (no unsolicited probe, while answers to a peer's own
// probes are not limited here).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "relay/wire/endpoint.h"
#include "relay/rate_limiter.h"

namespace pave {

class ProbeLimiter {
public:
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr double kDefaultBurstBytes = 2048;  // about 40 probes
    static constexpr double kDefaultRateBytes = 64;     // per second, about one probe
    static constexpr size_t kDefaultMaxGroups = 4096;

    explicit ProbeLimiter(double burst_bytes = kDefaultBurstBytes, double rate_bytes_per_s = kDefaultRateBytes,
                          size_t max_groups = kDefaultMaxGroups);

    // Takes `bytes` from the bucket of `to`'s group; false (nothing taken, counted) if it
    // lacks them, if `to` is invalid, or if the table is full of busy groups.
    bool take(const Endpoint& to, size_t bytes, time_point now);

    size_t groups() const { return groups_.size(); }
    uint64_t refused() const { return refused_; }
    uint64_t allowed_bytes() const { return allowed_bytes_; }
    // Drops idle groups; returns how many.
    size_t prune(time_point now) { return groups_.prune(now); }

private:
    KeyedRateLimiter groups_;
    uint64_t refused_ = 0, allowed_bytes_ = 0;
};

}  // namespace pave
