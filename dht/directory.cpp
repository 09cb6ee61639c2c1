#include "dht/directory.h"

#include <nettle/sha2.h>

#include "crypto/random.h"
#include "dht/bucket_keys.h"

namespace pave {

namespace {
constexpr size_t kSeenMax = 16384;

std::string digest_of(ByteView value) {
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, value.size(), value.data());
    uint8_t d[16];
    sha256_digest(&ctx, sizeof d, d);
    return std::string(reinterpret_cast<const char*>(d), sizeof d);
}
}  // namespace

const char* Directory::to_string(Verdict v) {
    switch (v) {
        case Verdict::accepted: return "accepted";
        case Verdict::duplicate: return "duplicate";
        case Verdict::stale: return "stale";
        case Verdict::too_large: return "too_large";
        case Verdict::malformed: return "malformed";
        case Verdict::unknown_version: return "unknown_version";
        case Verdict::bad_signature: return "bad_signature";
        case Verdict::expired: return "expired";
        case Verdict::too_far_future: return "too_far_future";
        case Verdict::wrong_bucket: return "wrong_bucket";
        case Verdict::self: return "self";
        case Verdict::full: return "full";
        case Verdict::count_: break;
    }
    return "?";
}

Directory::Directory(std::optional<Ed25519Public> self, size_t max_relays, uint64_t max_future_s)
    : self_(self), max_relays_(max_relays), max_future_s_(max_future_s) {}

Directory::Verdict Directory::ingest(ByteView value, unsigned bucket, uint64_t now_s) {
    Verdict v = judge(value, bucket, now_s);
    counts_[size_t(v)]++;
    return v;
}

Directory::Verdict Directory::judge(ByteView value, unsigned bucket, uint64_t now_s) {
    if (value.size() > kPresenceMaxSize) return Verdict::too_large;
    // Verdicts that depend on the bytes alone are remembered by digest, so a value is parsed
    // and signature-checked once however often it is delivered. Verdicts that depend on where
    // or when the value was read (bucket, far-future expiry, a full table) are not: a copy of
    // a genuine record planted under another bucket must not hide the original.
    std::string digest = digest_of(value);
    if (seen_.count(digest)) return Verdict::duplicate;
    Verdict v = judge_fresh(value, bucket, now_s);
    if (v != Verdict::wrong_bucket && v != Verdict::too_far_future && v != Verdict::full) remember(digest);
    return v;
}

void Directory::remember(const std::string& digest) {
    seen_.emplace(digest, true);
    seen_order_.push_back(digest);
    if (seen_order_.size() > kSeenMax) {
        seen_.erase(seen_order_.front());
        seen_order_.pop_front();
    }
}

Directory::Verdict Directory::judge_fresh(ByteView value, unsigned bucket, uint64_t now_s) {
    // Cheap structural and time checks first: a signature is checked only for a record that
    // would otherwise be accepted.
    PresenceParse p = decode_presence(value);
    if (!p.record) {
        if (p.error == PresenceError::unknown_version) return Verdict::unknown_version;
        if (p.error == PresenceError::too_large) return Verdict::too_large;
        return Verdict::malformed;
    }
    const PresenceRecord& r = *p.record;
    if (r.expires <= now_s) return Verdict::expired;
    if (r.expires > now_s + max_future_s_) return Verdict::too_far_future;
    if (relay_bucket_of(r.node_pub) != bucket) return Verdict::wrong_bucket;
    if (self_ && r.node_pub == *self_) return Verdict::self;
    auto it = relays_.find(r.node_pub);
    if (it != relays_.end() && it->second.expires >= r.expires) return Verdict::stale;
    if (it == relays_.end() && relays_.size() >= max_relays_) return Verdict::full;
    if (!decode_and_verify_presence(value).record) return Verdict::bad_signature;

    RelayInfo info{r.node_pub, r.inbox_pub, r.period_secs, r.period, r.capacity, r.expires, bucket};
    relays_[r.node_pub] = info;
    return Verdict::accepted;
}

size_t Directory::expire(uint64_t now_s) {
    size_t n = 0;
    for (auto it = relays_.begin(); it != relays_.end();) {
        if (it->second.expires <= now_s) {
            it = relays_.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    return n;
}

std::vector<RelayInfo> Directory::live(uint64_t now_s) const {
    std::vector<RelayInfo> out;
    for (const auto& [k, r] : relays_)
        if (r.expires > now_s) out.push_back(r);
    return out;
}

std::optional<RelayInfo> Directory::pick_random(uint64_t now_s) const {
    std::vector<RelayInfo> l = live(now_s);
    if (self_) std::erase_if(l, [&](const RelayInfo& r) { return r.node_pub == *self_; });
    if (l.empty()) return std::nullopt;
    return l[random_below(l.size())];
}

std::optional<RelayInfo> Directory::find(const Ed25519Public& node_pub, uint64_t now_s) const {
    auto it = relays_.find(node_pub);
    if (it == relays_.end() || it->second.expires <= now_s) return std::nullopt;
    return it->second;
}

}  // namespace pave
