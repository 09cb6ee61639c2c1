// HPKE (RFC 9180), base mode, one suite only:
// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
#pragma once
#include <optional>

#include "crypto/bytes.h"
#include "crypto/x25519.h"

namespace pave {

class HpkeContext;
namespace hpke_internal {
HpkeContext key_schedule_base(const SecretArray<32>& shared_secret, ByteView info, bool sender);
}

// An encryption context of one side. Sequence numbers advance per the RFC: seal on the
// sender's context, open on the recipient's (open advances only on success). Move-only; the
// moved-from context is emptied. Key material is wiped on destruction.
class HpkeContext {
public:
    HpkeContext(HpkeContext&& o) noexcept;
    HpkeContext& operator=(HpkeContext&& o) noexcept;
    HpkeContext(const HpkeContext&) = delete;
    HpkeContext& operator=(const HpkeContext&) = delete;
    ~HpkeContext() = default;

    // ciphertext || tag; empty if this is not a sender context or the sequence is exhausted.
    Bytes seal(ByteView aad, ByteView pt);
    // nullopt if this is not a recipient context or authentication fails.
    std::optional<Bytes> open(ByteView aad, ByteView ct);
    // Export(exporter_context, len); empty if len > 255 * 32.
    Bytes export_secret(ByteView exporter_context, size_t len) const;

    uint64_t sequence() const { return seq_; }

    // The key schedule's outputs, for known-answer tests only.
    const SecretArray<32>& key_for_test() const { return key_; }
    const SecretArray<12>& base_nonce_for_test() const { return base_nonce_; }
    const SecretArray<32>& exporter_secret_for_test() const { return exporter_secret_; }

private:
    friend HpkeContext hpke_internal::key_schedule_base(const SecretArray<32>&, ByteView, bool);
    HpkeContext() = default;
    void compute_nonce(uint8_t out[12]) const;
    void clear();

    SecretArray<32> key_;
    SecretArray<12> base_nonce_;
    SecretArray<32> exporter_secret_;
    uint64_t seq_ = 0;
    bool valid_ = false;
    bool sender_ = false;
};

struct HpkeSender {
    ByteArray<32> enc{};
    HpkeContext ctx;
};

// SetupBaseS(pkR, info). injected_ephemeral replaces the random ephemeral key (tests only).
// nullopt if the Diffie-Hellman result is all zero.
std::optional<HpkeSender> hpke_setup_base_sender(const ByteArray<32>& pkR, ByteView info,
                                                 const X25519Key* injected_ephemeral = nullptr);
// SetupBaseR(enc, skR, info). nullopt if the Diffie-Hellman result is all zero.
std::optional<HpkeContext> hpke_setup_base_receiver(const ByteArray<32>& enc, const X25519Key& skR, ByteView info);

// Pieces of the scheme exposed for known-answer tests.
namespace hpke_internal {
// DeriveKeyPair(ikm) of DHKEM(X25519, HKDF-SHA256).
X25519Key derive_key_pair(ByteView ikm);
struct Encapsulated {
    SecretArray<32> shared_secret;
    ByteArray<32> enc{};
};
std::optional<Encapsulated> encap(const ByteArray<32>& pkR, const X25519Key& ephemeral);
std::optional<SecretArray<32>> decap(const ByteArray<32>& enc, const X25519Key& skR);
}  // namespace hpke_internal

}  // namespace pave
