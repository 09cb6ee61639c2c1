// Fuzzes the presence record parser and the directory fed with it: no crash, no out-of-bounds
// read; the two decoders agree; a parsed record re-encodes (under a fixed key) to a record
// carrying the same fields; the directory's verdicts match what the parser says.
#include <cstdlib>
#include <cstring>

#include "dht/bucket_keys.h"
#include "dht/directory.h"
#include "dht/presence_record.h"

using namespace pave;

namespace {

constexpr uint64_t kNow = 1750000000;
constexpr uint64_t kMaxFuture = 3600;

const Ed25519Key& fixed_key() {
    static const Ed25519Key key = [] {
        SecretArray<32> seed;
        seed.b.fill(0x29);
        return Ed25519Key::from_seed(seed);
    }();
    return key;
}

bool same_payload(const PresenceRecord& a, const PresenceRecord& b) {
    return a.version == b.version && a.inbox_pub == b.inbox_pub && a.period_secs == b.period_secs &&
           a.period == b.period && a.capacity == b.capacity && a.expires == b.expires;
}

void check_verdict_matches(Directory::Verdict v, const PresenceParse& p) {
    using V = Directory::Verdict;
    if (p.record) {
        if (v == V::too_large || v == V::malformed || v == V::unknown_version) std::abort();
        return;
    }
    switch (p.error) {
        case PresenceError::too_large:
            if (v != V::too_large) std::abort();
            break;
        case PresenceError::unknown_version:
            if (v != V::unknown_version) std::abort();
            break;
        case PresenceError::malformed:
            if (v != V::malformed) std::abort();
            break;
        case PresenceError::bad_inbox_key:
            if (v != V::bad_inbox_key) std::abort();
            break;
        case PresenceError::bad_period_secs:
            if (v != V::bad_period_secs) std::abort();
            break;
        case PresenceError::bad_period:
            if (v != V::bad_period) std::abort();
            break;
        case PresenceError::bad_capacity:
            if (v != V::bad_capacity) std::abort();
            break;
        case PresenceError::bad_expires:
            if (v != V::bad_expires) std::abort();
            break;
        default: std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ByteView in(data, size);
    const PresenceParse p = decode_presence(in);
    const PresenceParse pv = decode_and_verify_presence(in);

    // The parsers' answers are consistent with each other and with the size limit.
    if (p.record.has_value() != (p.error == PresenceError::none)) std::abort();
    if (pv.record.has_value() != (pv.error == PresenceError::none)) std::abort();
    if ((size > kPresenceMaxSize) != (p.error == PresenceError::too_large)) std::abort();
    if (p.record) {
        if (p.record->version != kPresenceVersion) std::abort();
        // Every field of a parsed record is in its named range.
        if (check_presence_fields(*p.record) != PresenceError::none) std::abort();
        if (p.record->period_secs < kMinPeriodSecs || p.record->period_secs > kMaxPeriodSecs) std::abort();
        if (p.record->capacity > kMaxCapacity) std::abort();
        if (pv.record) {
            if (!same_payload(*p.record, *pv.record) || p.record->node_pub != pv.record->node_pub ||
                p.record->signature != pv.record->signature)
                std::abort();
        } else if (pv.error != PresenceError::bad_signature) {
            std::abort();
        }
    } else if (pv.record || pv.error != p.error) {
        std::abort();
    }

    // The directory, with a fixed clock, under the bucket the bytes pick.
    const unsigned bucket = size ? data[0] % kRelayBuckets : 0;
    {
        Directory d(std::nullopt, 4, kMaxFuture);
        const Directory::Verdict v = d.ingest(in, bucket, kNow);
        check_verdict_matches(v, p);
        if (v == Directory::Verdict::accepted) {
            if (!pv.record || d.size() != 1) std::abort();
            auto f = d.find(pv.record->node_pub, kNow);
            if (!f || f->expires != pv.record->expires || f->inbox_pub != pv.record->inbox_pub) std::abort();
            auto r = d.pick_random(kNow);
            if (!r || r->node_pub != pv.record->node_pub) std::abort();
        } else if (d.size() != 0) {
            std::abort();
        }
        const Directory::Verdict again = d.ingest(in, bucket, kNow);
        if (again != (v == Directory::Verdict::too_large ? v : Directory::Verdict::duplicate)) std::abort();
        if (v == again ? d.count(v) != 2 : (d.count(v) != 1 || d.count(again) != 1)) std::abort();
    }

    if (!p.record) return 0;

    // Re-encoding the parsed fields under the fixed key gives a genuine record with the same fields.
    const Bytes re = encode_presence(*p.record, fixed_key());
    if (re.size() > kPresenceMaxSize) std::abort();
    const PresenceParse q = decode_and_verify_presence(re);
    if (!q.record || !same_payload(*q.record, *p.record)) std::abort();
    if (q.record->node_pub != fixed_key().public_key()) std::abort();

    // ... which the directory judges by its time fields alone.
    Directory d(std::nullopt, 4, kMaxFuture);
    const unsigned own = relay_bucket_of(fixed_key().public_key());
    const Directory::Verdict v = d.ingest(re, own, kNow);
    using V = Directory::Verdict;
    const uint64_t e = q.record->expires;
    const V want = e <= kNow                         ? V::expired
                   : e > kNow + kMaxFuture           ? V::too_far_future
                   : !period_is_current(*q.record, kNow) ? V::period_not_current
                                                     : V::accepted;
    if (v != want) std::abort();
    if (v == V::accepted) {
        auto f = d.find(fixed_key().public_key(), kNow);
        if (!f || f->bucket != own || f->capacity != p.record->capacity || f->period != p.record->period ||
            f->period_secs != p.record->period_secs)
            std::abort();
        if (d.expire(e) != 1 || d.size() != 0) std::abort();
    }
    Directory other(std::nullopt, 4, kMaxFuture);
    if (other.ingest(re, (own + 1) % kRelayBuckets, kNow) != (v == V::accepted ? V::wrong_bucket : want))
        std::abort();
    return 0;
}
