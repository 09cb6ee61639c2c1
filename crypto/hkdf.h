// HKDF-SHA256 (RFC 5869).
#pragma once
#include <span>

#include "crypto/bytes.h"

namespace pave::hkdf {

inline constexpr size_t kHashLen = 32;
inline constexpr size_t kMaxOutput = 255 * kHashLen;

// PRK = HMAC-SHA256(salt, ikm); an empty salt means HashLen zero bytes.
SecretArray<32> extract(ByteView salt, ByteView ikm);

// OKM of len bytes from prk (at least 32 bytes) and info. Returns an empty vector when
// len > kMaxOutput or prk is shorter than 32 bytes.
Bytes expand(ByteView prk, ByteView info, size_t len);

// As expand, into out (out.size() <= kMaxOutput); false (and out untouched) otherwise.
bool expand_into(ByteView prk, ByteView info, std::span<uint8_t> out);

}  // namespace pave::hkdf
