// Cryptographically secure randomness (GnuTLS's generator).
#pragma once
#include <cstdint>

#include "crypto/bytes.h"

namespace pave {

// Fills buf from the key-grade generator; aborts the process if the generator fails
// (continuing without randomness would be worse than stopping).
void random_bytes(std::span<uint8_t> buf);
uint64_t random_u64();
// Uniform in [0, bound) without modulo bias; bound > 0.
uint64_t random_below(uint64_t bound);

}  // namespace pave
