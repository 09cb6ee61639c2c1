#include "dht/directory.h"

#include <nettle/sha2.h>

#include <algorithm>

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
        case Verdict::accepted_evicting: return "accepted_evicting";
        case Verdict::duplicate: return "duplicate";
        case Verdict::stale: return "stale";
        case Verdict::too_large: return "too_large";
        case Verdict::malformed: return "malformed";
        case Verdict::unknown_version: return "unknown_version";
        case Verdict::bad_signature: return "bad_signature";
        case Verdict::bad_inbox_key: return "bad_inbox_key";
        case Verdict::bad_period_secs: return "bad_period_secs";
        case Verdict::bad_period: return "bad_period";
        case Verdict::bad_capacity: return "bad_capacity";
        case Verdict::bad_expires: return "bad_expires";
        case Verdict::bad_endpoint: return "bad_endpoint";
        case Verdict::expired: return "expired";
        case Verdict::too_far_future: return "too_far_future";
        case Verdict::period_not_current: return "period_not_current";
        case Verdict::wrong_bucket: return "wrong_bucket";
        case Verdict::self: return "self";
        case Verdict::count_: break;
    }
    return "?";
}

Directory::Directory(std::optional<Ed25519Public> self, size_t max_relays, uint64_t max_future_s)
    : self_(self), max_relays_(std::max<size_t>(max_relays, 1)), max_future_s_(max_future_s) {}

Directory::Verdict Directory::ingest(ByteView value, unsigned bucket, uint64_t now_s) {
    Verdict v = judge(value, bucket, now_s);
    counts_[size_t(v)]++;
    return v;
}

Directory::Verdict Directory::judge(ByteView value, unsigned bucket, uint64_t now_s) {
    if (value.size() > kPresenceMaxSize) return Verdict::too_large;
    // Verdicts that depend on the bytes alone are remembered by digest, so a value is parsed
    // and signature-checked once however often it is delivered. Verdicts that depend on where
    // or when the value was read (bucket, far-future expiry, the period) are not: a copy of
    // a genuine record planted under another bucket must not hide the original.
    std::string digest = digest_of(value);
    if (seen_.count(digest)) return Verdict::duplicate;
    Verdict v = judge_fresh(value, bucket, now_s);
    if (v != Verdict::wrong_bucket && v != Verdict::too_far_future && v != Verdict::period_not_current)
        remember(digest);
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
        switch (p.error) {
            case PresenceError::unknown_version: return Verdict::unknown_version;
            case PresenceError::too_large: return Verdict::too_large;
            case PresenceError::bad_inbox_key: return Verdict::bad_inbox_key;
            case PresenceError::bad_period_secs: return Verdict::bad_period_secs;
            case PresenceError::bad_period: return Verdict::bad_period;
            case PresenceError::bad_capacity: return Verdict::bad_capacity;
            case PresenceError::bad_expires: return Verdict::bad_expires;
            case PresenceError::bad_endpoint: return Verdict::bad_endpoint;
            default: return Verdict::malformed;
        }
    }
    const PresenceRecord& r = *p.record;
    if (r.expires <= now_s) return Verdict::expired;
    if (r.expires > now_s + max_future_s_) return Verdict::too_far_future;
    if (!period_is_current(r, now_s)) return Verdict::period_not_current;
    if (relay_bucket_of(r.node_pub) != bucket) return Verdict::wrong_bucket;
    if (self_ && r.node_pub == *self_) return Verdict::self;
    auto it = relays_.find(r.node_pub);
    if (it != relays_.end() && it->second.expires >= r.expires) return Verdict::stale;
    // The signature is checked before anything is evicted: only a verified record makes room.
    if (!decode_and_verify_presence(value).record) return Verdict::bad_signature;

    Verdict v = Verdict::accepted;
    if (it == relays_.end() && relays_.size() >= max_relays_) {
        evict_one();
        v = Verdict::accepted_evicting;
    }
    RelayInfo info{r.node_pub, r.inbox_pub, r.period_secs, r.period, r.capacity, r.expires, bucket, answered(r.node_pub),
                   r.endpoints, note_first_seen(r.node_pub, now_s)};
    auto [pos, inserted] = relays_.insert_or_assign(r.node_pub, info);
    (void)pos;
    if (inserted) {
        slot_of_[r.node_pub] = slots_.size();
        slots_.push_back(r.node_pub);
    }
    return v;
}

uint64_t Directory::note_first_seen(const Ed25519Public& pub, uint64_t now_s) {
    if (auto it = first_seen_.find(pub); it != first_seen_.end()) return it->second;
    if (first_seen_.size() >= kMaxFirstSeen) {
        // Forget a relay that has no record here now (a random one), else any.
        auto victim = std::next(first_seen_.begin(), ptrdiff_t(random_below(first_seen_.size())));
        for (size_t i = 0; i < first_seen_.size() && relays_.count(victim->first); ++i)
            if (++victim == first_seen_.end()) victim = first_seen_.begin();
        first_seen_.erase(victim);
    }
    first_seen_.emplace(pub, now_s);
    return now_s;
}

void Directory::import_first_seen(const std::map<Ed25519Public, uint64_t>& seen) {
    for (const auto& [pub, t] : seen) {
        auto it = first_seen_.find(pub);
        if (it != first_seen_.end()) {
            it->second = std::min(it->second, t);
        } else if (first_seen_.size() < kMaxFirstSeen) {
            first_seen_.emplace(pub, t);
        }
        if (auto r = relays_.find(pub); r != relays_.end()) r->second.first_seen = first_seen_.count(pub) ? first_seen_[pub] : r->second.first_seen;
    }
}

void Directory::evict_one() {
    if (slots_.empty()) return;
    // Uniform among the unprotected: a few random draws, then a scan from a random start (the
    // protected are at most half the table, so the draws almost always succeed).
    for (int tries = 0; tries < 16; ++tries) {
        const Ed25519Public& k = slots_[random_below(slots_.size())];
        auto it = relays_.find(k);
        if (!it->second.answered) {
            erase(it);
            return;
        }
    }
    size_t start = random_below(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
        auto it = relays_.find(slots_[(start + i) % slots_.size()]);
        if (!it->second.answered) {
            erase(it);
            return;
        }
    }
    erase(relays_.find(slots_[start]));  // not reached: at most half the table is protected
}

void Directory::erase(std::map<Ed25519Public, RelayInfo>::iterator it) {
    auto s = slot_of_.find(it->first);
    size_t idx = s->second;
    slot_of_.erase(s);
    if (idx + 1 != slots_.size()) {
        slots_[idx] = slots_.back();
        slot_of_[slots_[idx]] = idx;
    }
    slots_.pop_back();
    relays_.erase(it);
}

void Directory::note_answered(const Ed25519Public& node_pub) {
    if (answered(node_pub)) return;
    // At most half the table is protected, so that eviction always has room to choose from.
    size_t cap = std::min(kMaxAnswered, max_relays_ / 2);
    if (cap == 0) return;
    answered_.push_back(node_pub);
    if (auto it = relays_.find(node_pub); it != relays_.end()) it->second.answered = true;
    while (answered_.size() > cap) {
        if (auto it = relays_.find(answered_.front()); it != relays_.end()) it->second.answered = false;
        answered_.pop_front();
    }
}

bool Directory::answered(const Ed25519Public& node_pub) const {
    return std::find(answered_.begin(), answered_.end(), node_pub) != answered_.end();
}

size_t Directory::expire(uint64_t now_s) {
    size_t n = 0;
    for (auto it = relays_.begin(); it != relays_.end();) {
        if (it->second.expires <= now_s) {
            auto next = std::next(it);
            erase(it);
            it = next;
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
