#include "relay/probe_limiter.h"

#include <algorithm>

#include "relay/wire/endpoint_policy.h"

namespace pave {

ProbeLimiter::ProbeLimiter(double burst_bytes, double rate_bytes_per_s, size_t max_groups)
    : groups_(rate_bytes_per_s, burst_bytes, std::max<size_t>(max_groups, 1), KeyedRateLimiter::WhenFull::deny_new) {}

bool ProbeLimiter::take(const Endpoint& to, size_t bytes, time_point now) {
    if (bytes == 0) return to.valid();
    const Bytes key = address_group(to);
    if (key.empty() || !groups_.allow(key, now, double(bytes))) {
        ++refused_;
        return false;
    }
    allowed_bytes_ += bytes;
    return true;
}

}  // namespace pave
