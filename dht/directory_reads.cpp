#include "dht/directory_reads.h"

#include <algorithm>
#include <cmath>

#include <nettle/sha2.h>

#include "crypto/random.h"

namespace pave {

DirectoryReads::DirectoryReads(Params p, std::optional<Seed> seed) : p_(p) {
    if (seed) seed_ = *seed;
    else random_bytes(seed_);
}

unsigned DirectoryReads::replica_of(unsigned bucket) const {
    if (network_.empty()) return unsigned(random_below(kBucketReplicas));
    static const char label[] = "pave/v1/directory-replica";
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, sizeof label - 1, reinterpret_cast<const uint8_t*>(label));
    sha256_update(&ctx, seed_.size(), seed_.data());
    const uint8_t len = uint8_t(std::min<size_t>(network_.size(), 255));
    sha256_update(&ctx, 1, &len);
    sha256_update(&ctx, len, network_.data());
    const uint8_t b = uint8_t(bucket);
    sha256_update(&ctx, 1, &b);
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    return d[0] % kBucketReplicas;
}

void DirectoryReads::want(const std::vector<unsigned>& buckets, Clock::time_point now,
                          std::optional<std::chrono::seconds> min_reread) {
    auto spacing = min_reread.value_or(p_.min_reread);
    for (unsigned b : buckets) {
        if (b >= kRelayBuckets) continue;
        auto it = last_read_.find(b);
        if (it != last_read_.end() && now < it->second + spacing) continue;
        wanted_.insert(b);
    }
}

void DirectoryReads::want_all(Clock::time_point now, std::optional<std::chrono::seconds> min_reread) {
    std::vector<unsigned> all;
    for (unsigned b = 0; b < kRelayBuckets; ++b) all.push_back(b);
    want(all, now, min_reread);
}

DirectoryReads::Read DirectoryReads::make(unsigned bucket, Clock::time_point now) {
    Read r;
    r.bucket = bucket;
    r.replica = replica_of(bucket);
    r.key = relay_directory_key(bucket, r.replica);
    last_read_[bucket] = now;
    ++reads_;
    return r;
}

void DirectoryReads::schedule_background(Clock::time_point now) {
    // Exponential with mean refresh_mean: -ln(U) * mean, U uniform in (0, 1].
    double u = double(random_below(1u << 30) + 1) / double(1u << 30);
    double secs = -std::log(u) * double(p_.refresh_mean.count());
    secs = std::min(secs, 20.0 * double(p_.refresh_mean.count()));
    background_at_ = now + std::chrono::milliseconds(int64_t(secs * 1000.0));
}

std::vector<DirectoryReads::Read> DirectoryReads::take_due(Clock::time_point now) {
    std::vector<Read> out;
    for (unsigned b : wanted_) out.push_back(make(b, now));
    wanted_.clear();
    if (!background_at_) {
        schedule_background(now);
    } else if (now >= *background_at_) {
        out.push_back(make(unsigned(random_below(kRelayBuckets)), now));
        schedule_background(now);
    }
    return out;
}

DirectoryReads::Clock::time_point DirectoryReads::next_deadline() const {
    if (!wanted_.empty() || !background_at_) return Clock::time_point::min();
    return *background_at_;
}

}  // namespace pave
