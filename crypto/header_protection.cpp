#include "crypto/header_protection.h"

#include <nettle/chacha.h>

#include <cstring>

namespace pave {

void header_protection_mask(const SecretArray<32>& key, const uint8_t sample[kHeaderSampleSize],
                            std::span<uint8_t> out) {
    if (out.size() > kHeaderMaskMax) return;
    chacha_ctx ctx;
    chacha_set_key(&ctx, key.data());
    chacha_set_nonce96(&ctx, sample + 4);
    chacha_set_counter32(&ctx, sample);
    std::memset(out.data(), 0, out.size());
    chacha_crypt32(&ctx, out.size(), out.data(), out.data());
    secure_zero(&ctx, sizeof ctx);
}

}  // namespace pave
