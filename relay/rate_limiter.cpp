#include "relay/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "relay/wire/endpoint.h"

namespace pave {

namespace {

double non_negative(double v) { return (std::isnan(v) || v < 0) ? 0.0 : v; }

}  // namespace

TokenBucket::TokenBucket(double rate_per_s, double burst)
    : rate_(non_negative(rate_per_s)), burst_(non_negative(burst)), tokens_(burst_) {
    if (std::isinf(rate_)) rate_ = 0;
    if (std::isinf(burst_)) burst_ = tokens_ = 0;
}

double TokenBucket::refilled(time_point now) const {
    if (!started_ || now <= last_) return tokens_;
    const double dt = std::chrono::duration<double>(now - last_).count();
    return std::min(burst_, tokens_ + dt * rate_);
}

double TokenBucket::available(time_point now) const { return refilled(now); }

bool TokenBucket::take(time_point now, double n) {
    tokens_ = refilled(now);
    if (!started_ || now > last_) last_ = now;
    started_ = true;
    if (!(n > 0)) return false;
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
}

KeyedRateLimiter::KeyedRateLimiter(double rate_per_s, double burst, size_t max_entries,
                                   WhenFull when_full)
    : rate_(rate_per_s), burst_(burst), max_entries_(std::max<size_t>(1, max_entries)),
      when_full_(when_full) {}

bool KeyedRateLimiter::allow(const Bytes& key, time_point now, double n) {
    auto it = index_.find(key);
    if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->bucket.take(now, n);
    }
    if (index_.size() >= max_entries_) {
        Entry& oldest = lru_.back();
        if (!oldest.bucket.full_at(now) && when_full_ == WhenFull::deny_new) return false;
        index_.erase(oldest.key);
        lru_.pop_back();
    }
    lru_.push_front(Entry{key, TokenBucket(rate_, burst_)});
    index_.emplace(key, lru_.begin());
    return lru_.front().bucket.take(now, n);
}

bool KeyedRateLimiter::allow(const Endpoint& ep, time_point now, double n) {
    if (!ep.valid()) return false;
    return allow(ep.ip_bytes(), now, n);
}

size_t KeyedRateLimiter::prune(time_point now) {
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
