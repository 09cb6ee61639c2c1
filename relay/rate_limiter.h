// Rate limiting with time passed in by the caller (no clock reads, no I/O), so tests drive it.
//   TokenBucket        one bucket: `rate` tokens per second, holding at most `burst`.
//   KeyedRateLimiter   one bucket per key (an IP address) in a table of bounded size, used for
//                      STUN answers per source IP and handshake initiations per destination.
#pragma once
#include <chrono>
#include <cstddef>
#include <list>
#include <map>

#include "crypto/bytes.h"

namespace pave {

class Endpoint;

class TokenBucket {
public:
    using time_point = std::chrono::steady_clock::time_point;

    // A new bucket is full. rate_per_s and burst are clamped to >= 0 (NaN counts as 0).
    TokenBucket(double rate_per_s, double burst);

    // Refills for the time elapsed since the previous call, then takes n tokens if that many
    // are available. A time earlier than the latest one seen refills nothing (never negative).
    // n <= 0 or NaN is refused (false) and takes nothing.
    bool take(time_point now, double n = 1);

    // Tokens available at `now` (refilled, nothing taken); does not change the bucket.
    double available(time_point now) const;
    // True if the bucket would be full at `now`: it then carries no state a fresh bucket lacks.
    bool full_at(time_point now) const { return available(now) >= burst_; }

    double rate() const { return rate_; }
    double burst() const { return burst_; }

private:
    double refilled(time_point now) const;

    double rate_;
    double burst_;
    double tokens_;
    time_point last_{};
    bool started_ = false;
};

class KeyedRateLimiter {
public:
    using time_point = TokenBucket::time_point;

    // What allow() does for a new key when the table holds max_entries keys and its least
    // recently used key has not been idle long enough to be full again (evicting such a key
    // loses nothing and is always done):
    //   evict_oldest  drop that key anyway; the new key gets a fresh bucket. An attacker who
    //                 cycles through many keys can then reset the bucket of a key it also uses.
    //   deny_new      refuse the new key (fail closed) until an entry has gone idle.
    enum class WhenFull { evict_oldest, deny_new };

    // max_entries is at least 1. Memory is O(max_entries) (keys are IP addresses: 4 or 16 bytes).
    KeyedRateLimiter(double rate_per_s, double burst, size_t max_entries,
                     WhenFull when_full = WhenFull::evict_oldest);

    // Takes n tokens (default one) from key's bucket (creating it full if absent); true if
    // allowed. A refused take leaves the bucket as it was.
    bool allow(const Bytes& key, time_point now, double n = 1);
    // Keyed by the endpoint's IP address (the port is ignored); an invalid endpoint is refused.
    bool allow(const Endpoint& ep, time_point now, double n = 1);

    size_t size() const { return index_.size(); }
    size_t max_entries() const { return max_entries_; }
    bool contains(const Bytes& key) const { return index_.count(key) != 0; }
    // Drops every entry whose bucket is full at `now` (idle keys); returns how many.
    size_t prune(time_point now);

private:
    struct Entry {
        Bytes key;
        TokenBucket bucket;
    };
    using List = std::list<Entry>;  // front = most recently used

    double rate_;
    double burst_;
    size_t max_entries_;
    WhenFull when_full_;
    List lru_;
    // An ordered map rather than a hash table: keys are chosen by remote parties, and a tree
    // has no worst case they can provoke.
    std::map<Bytes, List::iterator> index_;
};

}  // namespace pave
