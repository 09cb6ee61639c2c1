// The STUN server of a node's shared port with its answer budget: binding requests are
// answered (an answer is at most 2.6x the request's size) within a budget per source IP and
// one in total, so that requests spoofed from many addresses cannot turn the node into a
// reflector. I/O-free: fed the request, its source and the time; the caller sends the answer
// through the port's amplification guard and reports whether it left.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"
#include "relay/rate_limiter.h"

namespace pave {

class StunAnswerer {
public:
    using time_point = std::chrono::steady_clock::time_point;

    static constexpr double kPerSourceRate = 20.0, kPerSourceBurst = 40.0;
    static constexpr size_t kSources = 4096;
    static constexpr double kTotalRate = 500.0, kTotalBurst = 500.0;

    // The answer to send back to `from`, or nothing: not a request we answer (not counted),
    // or over the budget (counted as rate_limited).
    std::optional<Bytes> answer(ByteView request, const Endpoint& from, time_point now);
    // What became of an answer: sent, or refused by the port's amplification guard.
    void sent(bool ok) { ++(ok ? answered_ : over_budget_); }

    uint64_t answered() const { return answered_; }
    uint64_t rate_limited() const { return rate_limited_; }
    uint64_t over_budget() const { return over_budget_; }

private:
    KeyedRateLimiter per_source_{kPerSourceRate, kPerSourceBurst, kSources};
    TokenBucket total_{kTotalRate, kTotalBurst};
    uint64_t answered_ = 0, rate_limited_ = 0, over_budget_ = 0;
};

}  // namespace pave
