// Fuzzes the use of parsed values along the client's path, not only their parsing: records
// built from the input (signed with a fixed key, so they verify) go into a Directory; relays are
// picked as the client picks them (RelayChoice over live()); for each pick the inbox key of its
// bucket and period is computed and an offer sealed to its inbox key; then an answer decoded
// from the input (zero-padded plaintext) is checked as the client checks it and, if accepted,
// becomes a Session driven for a few timer steps. No crash, no UB (division by a zero period
// length, overflow of period arithmetic), and the directory's ranges hold for what it keeps.
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "crypto/session_keys.h"
#include "crypto/x25519.h"
#include "dht/bucket_keys.h"
#include "dht/directory.h"
#include "dht/inbox_keys.h"
#include "dht/relay_choice.h"
#include "dht/rendezvous_blob.h"
#include "relay/wire/endpoint_policy.h"
#include "relay/wire/rendezvous_frame.h"
#include "relay/session.h"

using namespace pave;

namespace {

constexpr uint64_t kNow = 1750000000;

const Ed25519Key& key_for(uint8_t i) {
    static const auto keys = [] {
        std::vector<Ed25519Key> k;
        for (uint8_t n = 0; n < 4; ++n) {
            SecretArray<32> seed;
            seed.b.fill(uint8_t(0x61 + n));
            k.push_back(Ed25519Key::from_seed(seed));
        }
        return k;
    }();
    return keys[i % keys.size()];
}

const X25519Key& client_eph() {
    static const X25519Key k = [] {
        SecretArray<32> s;
        s.b.fill(0x17);
        return X25519Key::from_private(s);
    }();
    return k;
}

class Input {
public:
    Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    template <typename T>
    T take() {
        T v{};
        size_t k = std::min(sizeof v, n_ - pos_);
        if (k) std::memcpy(&v, d_ + pos_, k);
        pos_ += k;
        return v;
    }
    ByteView rest() const { return {d_ + pos_, n_ - pos_}; }
    bool empty() const { return pos_ >= n_; }

private:
    const uint8_t* d_;
    size_t n_, pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in(data, size);
    Directory dir(std::nullopt, 3, 3600);
    // Up to four records with fields straight from the input (expiry relative to now, so that
    // the interesting ones are in range), signed so that only the range checks can refuse them.
    const uint8_t n_records = in.take<uint8_t>() % 5;
    for (uint8_t i = 0; i < n_records; ++i) {
        PresenceRecord r;
        const ByteArray<32> inbox = in.take<ByteArray<32>>();
        r.inbox_pub = inbox;
        r.period_secs = in.take<uint32_t>();
        const int64_t period_delta = in.take<int16_t>();
        r.period = r.period_secs ? uint64_t(int64_t(kNow / r.period_secs) + period_delta) : in.take<uint64_t>();
        r.capacity = in.take<uint32_t>();
        r.expires = kNow + uint64_t(int64_t(in.take<int16_t>()));
        // Endpoints from the input: any family, address and port, up to one past the limit.
        const uint8_t n_eps = in.take<uint8_t>() % (kPresenceMaxEndpoints + 2);
        for (uint8_t k = 0; k < n_eps; ++k) {
            const bool v6 = in.take<uint8_t>() & 1;
            const ByteArray<16> ip = in.take<ByteArray<16>>();
            if (auto e = Endpoint::from_ip_bytes(ByteView(ip.data(), v6 ? 16 : 4), in.take<uint16_t>()))
                r.endpoints.push_back(*e);
        }
        const Ed25519Key& key = key_for(in.take<uint8_t>());
        const Bytes v = encode_presence(r, key);
        const Directory::Verdict verdict = dir.ingest(v, relay_bucket_of(key.public_key()), kNow);
        if ((verdict == Directory::Verdict::accepted || verdict == Directory::Verdict::accepted_evicting) &&
            check_presence_fields(r) != PresenceError::none)
            std::abort();
        if (in.take<uint8_t>() & 1) dir.note_answered(key.public_key());
    }
    if (dir.size() > 3) std::abort();

    // The client's choice and what it computes from each pick.
    const auto t0 = RelayChoice::Clock::time_point{} + std::chrono::hours(1);
    RelayChoice choice(t0);
    const auto live = dir.live(kNow);
    std::optional<RelayInfo> last;
    std::optional<SealedOffer> sealed;
    for (int step = 0; step < 6; ++step) {
        const auto now = t0 + std::chrono::milliseconds(500 * step);
        choice.take_silent(now);
        auto pick = choice.next(live, now);
        if (!pick) continue;
        if (pick->period_secs < kMinPeriodSecs || pick->period_secs > kMaxPeriodSecs) std::abort();
        (void)inbox_shard_key(in.take<uint8_t>() % kInboxShards, pick->period_secs, pick->period);
        // Where the client would send its hellos: only endpoints the record was allowed to carry.
        if (pick->endpoints.size() > kPresenceMaxEndpoints) std::abort();
        for (const auto& e : pick->endpoints) {
            if (e.port() == 0 || !e.valid()) std::abort();
            (void)check_candidate(e, {}, {}, false);
        }
        Offer o;
        o.client_share = client_eph().pub;
        o.vpn = *Endpoint::parse("198.51.100.1:51820");
        o.candidates = {*Endpoint::parse("192.0.2.7:40000")};
        o.timestamp_ms = rendezvous_timestamp_now(kNow * 1000 + in.take<uint16_t>());
        sealed = seal_offer(o, pick->inbox_pub, pick->node_pub, pick->period);
        if (!sealed) std::abort();  // the directory keeps no low-order inbox key
        last = pick;
        if (in.take<uint8_t>() & 1) choice.on_answer(pick->node_pub);
    }

    // An answer frame as the client parses it (the hello id, then the sealed answer), and an
    // answer plaintext as the client judges it, and the session it builds.
    if (sealed) {
        Bytes frame = make_rendezvous_answer(rendezvous_hello_id(sealed->answer_key_material), in.rest().first(
                                                 std::min(in.rest().size(), kRendezvousSealedSize)));
        if (auto f = parse_rendezvous_frame(frame)) {
            if (f->sealed.size() != kRendezvousValueSize) std::abort();
            (void)open_answer(f->sealed, client_eph(), sealed->answer_key_material);
        }
    }
    RendezvousPlaintext pt{};
    const ByteView rest = in.rest();
    std::memcpy(pt.data(), rest.data(), std::min(rest.size(), pt.size()));
    auto a = decode_answer_plaintext(pt);
    if (!a) return 0;
    if (a->accepted == a->candidates.empty()) std::abort();
    if (!a->accepted) return 0;
    for (const auto& c : a->candidates)
        if (c.port() == 0 || !c.valid()) std::abort();
    (void)rendezvous_timestamp_fresh(a->timestamp_ms, kNow * 1000);
    std::vector<Endpoint> usable;
    for (const auto& c : a->candidates)
        if (check_candidate(c, {}, {}, (pt[0] & 1) != 0) == EndpointVerdict::ok) usable.push_back(c);
    if (usable.empty() || !sealed) return 0;
    auto ee = x25519_shared(client_eph().priv, a->relay_share);
    if (!ee) return 0;
    auto keys = derive_session_keys(sealed->answer_key_material, *ee);
    if (!keys) return 0;
    size_t sent = 0;
    auto now = Session::Clock::time_point{} + std::chrono::hours(2);
    Session s(SessionRole::client, *keys, usable, now, SessionTimers{},
              [&](const Endpoint&, ByteView d) { sent += d.size(); });
    for (int i = 0; i < 8 && s.state() == SessionState::punching; ++i) {
        now = std::max(now, s.next_deadline());
        s.on_timer(now);
    }
    s.close(0, now);
    (void)last;
    return 0;
}
