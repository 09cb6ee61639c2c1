#include "relay/probe_limiter.h"

#include <algorithm>

#include "relay/wire/endpoint_policy.h"

namespace pave {

ProbeLimiter::ProbeLimiter(double burst_bytes, double rate_bytes_per_s, size_t max_groups)
    : burst_(burst_bytes), rate_(rate_bytes_per_s), max_groups_(std::max<size_t>(max_groups, 1)) {}

bool ProbeLimiter::take(const Endpoint& to, size_t bytes, time_point now) {
    if (bytes == 0) return to.valid();
    Bytes key = address_group(to);
    if (key.empty()) {
        ++refused_;
        return false;
    }
    auto it = index_.find(key);
    if (it == index_.end()) {
        // Only the least recently used group can be idle-evicted cheaply; the others wait for prune().
        if (index_.size() >= max_groups_ && lru_.back().bucket.full_at(now)) {
            index_.erase(lru_.back().key);
            lru_.pop_back();
        }
        if (index_.size() >= max_groups_) {
            ++refused_;
            return false;
        }
        lru_.push_front(Entry{key, TokenBucket(rate_, burst_)});
        it = index_.emplace(std::move(key), lru_.begin()).first;
    } else {
        lru_.splice(lru_.begin(), lru_, it->second);
    }
    if (!it->second->bucket.take(now, double(bytes))) {
        ++refused_;
        return false;
    }
    allowed_bytes_ += bytes;
    return true;
}

size_t ProbeLimiter::prune(time_point now) {
    size_t n = 0;
    for (auto it = lru_.begin(); it != lru_.end();) {
        if (it->bucket.full_at(now)) {
            index_.erase(it->key);
            it = lru_.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    return n;
}

}  // namespace pave
