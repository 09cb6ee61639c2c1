#include "crypto/hkdf.h"

#include <nettle/hkdf.h>
#include <nettle/hmac.h>

namespace pave::hkdf {

namespace {

const uint8_t* ptr_or_dummy(ByteView v) {
    static const uint8_t dummy = 0;
    return v.empty() ? &dummy : v.data();
}

// Adapters with the exact types nettle's HKDF calls through.
void mac_update(void* ctx, size_t len, const uint8_t* data) {
    hmac_sha256_update(static_cast<hmac_sha256_ctx*>(ctx), len, data);
}
void mac_digest(void* ctx, size_t len, uint8_t* out) {
    hmac_sha256_digest(static_cast<hmac_sha256_ctx*>(ctx), len, out);
}

}  // namespace

SecretArray<32> extract(ByteView salt, ByteView ikm) {
    hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, salt.size(), ptr_or_dummy(salt));
    SecretArray<32> prk;
    nettle_hkdf_extract(&ctx, mac_update, mac_digest, SHA256_DIGEST_SIZE, ikm.size(), ptr_or_dummy(ikm),
                        prk.data());
    secure_zero(&ctx, sizeof ctx);
    return prk;
}

bool expand_into(ByteView prk, ByteView info, std::span<uint8_t> out) {
    if (out.size() > kMaxOutput || prk.size() < kHashLen) return false;
    if (out.empty()) return true;
    hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, prk.size(), prk.data());
    nettle_hkdf_expand(&ctx, mac_update, mac_digest, SHA256_DIGEST_SIZE, info.size(), ptr_or_dummy(info),
                       out.size(), out.data());
    secure_zero(&ctx, sizeof ctx);
    return true;
}

Bytes expand(ByteView prk, ByteView info, size_t len) {
    if (len > kMaxOutput || prk.size() < kHashLen) return {};
    Bytes out(len);
    expand_into(prk, info, out);
    return out;
}

}  // namespace pave::hkdf
