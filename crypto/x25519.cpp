#include "crypto/x25519.h"

#include <nettle/curve25519.h>

#include "crypto/random.h"

namespace pave {

X25519Key X25519Key::generate() {
    SecretArray<32> priv;
    random_bytes(priv.b);
    return from_private(priv);
}

X25519Key X25519Key::from_private(const SecretArray<32>& priv) {
    X25519Key k;
    k.priv = priv;
    curve25519_mul_g(k.pub.data(), k.priv.data());
    return k;
}

std::optional<SecretArray<32>> x25519_shared(const SecretArray<32>& priv, const ByteArray<32>& peer_pub) {
    SecretArray<32> out;
    curve25519_mul(out.data(), priv.data(), peer_pub.data());
    uint8_t acc = 0;
    for (uint8_t b : out.b) acc |= b;
    if (acc == 0) return std::nullopt;
    return out;
}

}  // namespace pave
