// ChaCha20-Poly1305 AEAD (RFC 8439): 32-byte key, 12-byte nonce, 16-byte tag appended.
#pragma once
#include <optional>

#include "crypto/bytes.h"

namespace pave {

inline constexpr size_t kAeadKey = 32;
inline constexpr size_t kAeadNonce = 12;
inline constexpr size_t kAeadTag = 16;

// Writes pt.size() + kAeadTag bytes (ciphertext then tag) to out. out may equal pt.data().
// Allocates nothing.
void aead_seal(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad, ByteView pt,
               uint8_t* out);

// Verifies and decrypts ct_with_tag into out (ct_with_tag.size() - kAeadTag bytes; out may equal
// ct_with_tag.data()). False if the input is shorter than a tag or fails authentication, in
// which case out holds zeros. Allocates nothing.
bool aead_open(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad, ByteView ct_with_tag,
               uint8_t* out);

Bytes aead_seal(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad, ByteView pt);
std::optional<Bytes> aead_open(const uint8_t key[kAeadKey], const uint8_t nonce[kAeadNonce], ByteView aad,
                               ByteView ct_with_tag);

}  // namespace pave
