#include "crypto/aead.h"

#include <nettle/chacha-poly1305.h>

namespace pave {

namespace {

void start(chacha_poly1305_ctx& ctx, const uint8_t* key, const uint8_t* nonce, ByteView aad) {
    chacha_poly1305_set_key(&ctx, key);
    chacha_poly1305_set_nonce(&ctx, nonce);
    if (!aad.empty()) chacha_poly1305_update(&ctx, aad.size(), aad.data());
}

}  // namespace

void aead_seal(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad, ByteView pt,
               uint8_t* out) {
    chacha_poly1305_ctx ctx;
    start(ctx, key, nonce, aad);
    if (!pt.empty()) chacha_poly1305_encrypt(&ctx, pt.size(), out, pt.data());
    chacha_poly1305_digest(&ctx, kAeadTag, out + pt.size());
    secure_zero(&ctx, sizeof ctx);
}

bool aead_open(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad, ByteView ct_with_tag,
               uint8_t* out) {
    if (ct_with_tag.size() < kAeadTag) return false;
    const size_t n = ct_with_tag.size() - kAeadTag;
    // Keep the received tag: with out == input, decryption overwrites only the first n bytes,
    // but copying makes the comparison independent of that.
    uint8_t tag[kAeadTag];
    for (size_t i = 0; i < kAeadTag; ++i) tag[i] = ct_with_tag[n + i];
    chacha_poly1305_ctx ctx;
    start(ctx, key, nonce, aad);
    if (n) chacha_poly1305_decrypt(&ctx, n, out, ct_with_tag.data());
    uint8_t expect[kAeadTag];
    chacha_poly1305_digest(&ctx, kAeadTag, expect);
    secure_zero(&ctx, sizeof ctx);
    bool ok = equal_ct(ByteView(tag, kAeadTag), ByteView(expect, kAeadTag));
    if (!ok && n) secure_zero(out, n);
    return ok;
}

Bytes aead_seal(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad, ByteView pt) {
    Bytes out(pt.size() + kAeadTag);
    aead_seal(key, nonce, aad, pt, out.data());
    return out;
}

std::optional<Bytes> aead_open(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad,
                               ByteView ct_with_tag) {
    if (ct_with_tag.size() < kAeadTag) return std::nullopt;
    Bytes out(ct_with_tag.size() - kAeadTag);
    if (!aead_open(key, nonce, aad, ct_with_tag, out.data())) return std::nullopt;
    return out;
}

}  // namespace pave
