// Header protection as QUIC does it with ChaCha20 (RFC 9001 §5.4.4): a mask computed from a
// 16-byte sample of the packet's ciphertext hides header fields (here a control frame's
// counter) from anyone without the key, so no plaintext byte pattern (a counter starting at 0)
// is visible on the wire. ChaCha20 is nettle's; RFC 9001 Appendix A.5 is the test vector.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/bytes.h"

namespace pave {

inline constexpr size_t kHeaderSampleSize = 16;
inline constexpr size_t kHeaderMaskMax = 64;  // one ChaCha20 block

// mask = ChaCha20(key, block counter = sample[0..4) little endian, nonce = sample[4..16)) applied
// to zero bytes; out.size() <= kHeaderMaskMax (nothing written otherwise).
void header_protection_mask(const SecretArray<32>& key, const uint8_t sample[kHeaderSampleSize],
                            std::span<uint8_t> out);

}  // namespace pave
