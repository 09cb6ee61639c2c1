// X25519 key agreement (RFC 7748).
#pragma once
#include <optional>

#include "crypto/bytes.h"

namespace pave {

struct X25519Key {
    SecretArray<32> priv;
    ByteArray<32> pub{};

    static X25519Key generate();
    static X25519Key from_private(const SecretArray<32>& priv);
};

// X25519(priv, peer_pub); nullopt when the result is all zero (a low-order peer key),
// which every caller must treat as a failed exchange.
std::optional<SecretArray<32>> x25519_shared(const SecretArray<32>& priv, const ByteArray<32>& peer_pub);

}  // namespace pave
