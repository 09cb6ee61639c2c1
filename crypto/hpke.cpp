#include "crypto/hpke.h"

#include <cstring>
#include <string_view>

#include "crypto/aead.h"
#include "crypto/hkdf.h"

namespace pave {

namespace {

constexpr uint8_t kModeBase = 0x00;
// suite_id of the KEM: "KEM" || I2OSP(0x0020, 2).
constexpr uint8_t kKemSuite[] = {'K', 'E', 'M', 0x00, 0x20};
// suite_id of HPKE: "HPKE" || kem_id || kdf_id (0x0001) || aead_id (0x0003).
constexpr uint8_t kHpkeSuite[] = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x03};
constexpr std::string_view kVersionLabel = "HPKE-v1";

// A byte vector wiped when it goes out of scope (the labeled inputs carry secrets).
struct WipedBytes {
    Bytes v;
    ~WipedBytes() { secure_zero(v.data(), v.size()); }
    void add(ByteView b) { v.insert(v.end(), b.begin(), b.end()); }
    void add(std::string_view s) { v.insert(v.end(), s.begin(), s.end()); }
};

SecretArray<32> labeled_extract(ByteView suite, ByteView salt, std::string_view label, ByteView ikm) {
    WipedBytes labeled;
    labeled.v.reserve(kVersionLabel.size() + suite.size() + label.size() + ikm.size());
    labeled.add(kVersionLabel);
    labeled.add(suite);
    labeled.add(label);
    labeled.add(ikm);
    return hkdf::extract(salt, labeled.v);
}

bool labeled_expand(ByteView suite, ByteView prk, std::string_view label, ByteView info, std::span<uint8_t> out) {
    if (out.size() > 0xffff) return false;
    Bytes labeled;
    labeled.reserve(2 + kVersionLabel.size() + suite.size() + label.size() + info.size());
    labeled.push_back(uint8_t(out.size() >> 8));
    labeled.push_back(uint8_t(out.size()));
    labeled.insert(labeled.end(), kVersionLabel.begin(), kVersionLabel.end());
    labeled.insert(labeled.end(), suite.begin(), suite.end());
    labeled.insert(labeled.end(), label.begin(), label.end());
    labeled.insert(labeled.end(), info.begin(), info.end());
    return hkdf::expand_into(prk, labeled, out);
}

// ExtractAndExpand(dh, kem_context) of the DHKEM.
SecretArray<32> extract_and_expand(const SecretArray<32>& dh, const ByteArray<32>& enc, const ByteArray<32>& pkR) {
    auto eae_prk = labeled_extract(kKemSuite, {}, "eae_prk", dh.b);
    uint8_t kem_context[64];
    std::memcpy(kem_context, enc.data(), 32);
    std::memcpy(kem_context + 32, pkR.data(), 32);
    SecretArray<32> shared;
    labeled_expand(kKemSuite, eae_prk.b, "shared_secret", ByteView(kem_context, 64), shared.b);
    return shared;
}

}  // namespace

namespace hpke_internal {

X25519Key derive_key_pair(ByteView ikm) {
    auto dkp_prk = labeled_extract(kKemSuite, {}, "dkp_prk", ikm);
    SecretArray<32> sk;
    labeled_expand(kKemSuite, dkp_prk.b, "sk", {}, sk.b);
    return X25519Key::from_private(sk);
}

std::optional<Encapsulated> encap(const ByteArray<32>& pkR, const X25519Key& ephemeral) {
    auto dh = x25519_shared(ephemeral.priv, pkR);
    if (!dh) return std::nullopt;
    Encapsulated e;
    e.enc = ephemeral.pub;
    e.shared_secret = extract_and_expand(*dh, e.enc, pkR);
    return e;
}

std::optional<SecretArray<32>> decap(const ByteArray<32>& enc, const X25519Key& skR) {
    auto dh = x25519_shared(skR.priv, enc);
    if (!dh) return std::nullopt;
    return extract_and_expand(*dh, enc, skR.pub);
}

HpkeContext key_schedule_base(const SecretArray<32>& shared_secret, ByteView info, bool sender) {
    auto psk_id_hash = labeled_extract(kHpkeSuite, {}, "psk_id_hash", {});
    auto info_hash = labeled_extract(kHpkeSuite, {}, "info_hash", info);
    uint8_t ksc[1 + 32 + 32];
    ksc[0] = kModeBase;
    std::memcpy(ksc + 1, psk_id_hash.data(), 32);
    std::memcpy(ksc + 33, info_hash.data(), 32);
    auto secret = labeled_extract(kHpkeSuite, shared_secret.b, "secret", {});

    HpkeContext ctx;
    labeled_expand(kHpkeSuite, secret.b, "key", ksc, ctx.key_.b);
    labeled_expand(kHpkeSuite, secret.b, "base_nonce", ksc, ctx.base_nonce_.b);
    labeled_expand(kHpkeSuite, secret.b, "exp", ksc, ctx.exporter_secret_.b);
    ctx.seq_ = 0;
    ctx.valid_ = true;
    ctx.sender_ = sender;
    return ctx;
}

}  // namespace hpke_internal

HpkeContext::HpkeContext(HpkeContext&& o) noexcept
    : key_(o.key_),
      base_nonce_(o.base_nonce_),
      exporter_secret_(o.exporter_secret_),
      seq_(o.seq_),
      valid_(o.valid_),
      sender_(o.sender_) {
    o.clear();
}

HpkeContext& HpkeContext::operator=(HpkeContext&& o) noexcept {
    if (this != &o) {
        key_ = o.key_;
        base_nonce_ = o.base_nonce_;
        exporter_secret_ = o.exporter_secret_;
        seq_ = o.seq_;
        valid_ = o.valid_;
        sender_ = o.sender_;
        o.clear();
    }
    return *this;
}

void HpkeContext::clear() {
    secure_zero(key_.data(), key_.size());
    secure_zero(base_nonce_.data(), base_nonce_.size());
    secure_zero(exporter_secret_.data(), exporter_secret_.size());
    seq_ = 0;
    valid_ = false;
}

void HpkeContext::compute_nonce(uint8_t out[12]) const {
    // base_nonce XOR I2OSP(seq, 12); seq fits in the low 8 bytes.
    std::memcpy(out, base_nonce_.data(), 12);
    for (int i = 0; i < 8; ++i) out[11 - i] ^= uint8_t(seq_ >> (8 * i));
}

Bytes HpkeContext::seal(ByteView aad, ByteView pt) {
    // The RFC's limit is 2^96 - 1 messages; a 64-bit counter stops one short of wrapping.
    if (!valid_ || !sender_ || seq_ == UINT64_MAX) return {};
    uint8_t nonce[12];
    compute_nonce(nonce);
    Bytes out = aead_seal(key_.data(), nonce, aad, pt);
    ++seq_;
    return out;
}

std::optional<Bytes> HpkeContext::open(ByteView aad, ByteView ct) {
    if (!valid_ || sender_ || seq_ == UINT64_MAX) return std::nullopt;
    uint8_t nonce[12];
    compute_nonce(nonce);
    auto pt = aead_open(key_.data(), nonce, aad, ct);
    if (!pt) return std::nullopt;
    ++seq_;
    return pt;
}

Bytes HpkeContext::export_secret(ByteView exporter_context, size_t len) const {
    if (!valid_ || len > hkdf::kMaxOutput) return {};
    Bytes out(len);
    if (!labeled_expand(kHpkeSuite, exporter_secret_.b, "sec", exporter_context, out)) return {};
    return out;
}

std::optional<HpkeSender> hpke_setup_base_sender(const ByteArray<32>& pkR, ByteView info,
                                                 const X25519Key* injected_ephemeral) {
    std::optional<hpke_internal::Encapsulated> e;
    if (injected_ephemeral) {
        e = hpke_internal::encap(pkR, *injected_ephemeral);
    } else {
        auto eph = X25519Key::generate();
        e = hpke_internal::encap(pkR, eph);
    }
    if (!e) return std::nullopt;
    return HpkeSender{e->enc, hpke_internal::key_schedule_base(e->shared_secret, info, true)};
}

std::optional<HpkeContext> hpke_setup_base_receiver(const ByteArray<32>& enc, const X25519Key& skR, ByteView info) {
    auto shared = hpke_internal::decap(enc, skR);
    if (!shared) return std::nullopt;
    return hpke_internal::key_schedule_base(*shared, info, false);
}

}  // namespace pave
