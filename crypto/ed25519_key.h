// The node's long-term identity: an Ed25519 key pair (RFC 8032), and its printable node id.
#pragma once
#include <string>

#include "crypto/bytes.h"

namespace pave {

using Ed25519Public = ByteArray<32>;
using Ed25519Signature = ByteArray<64>;

class Ed25519Key {
public:
    // A fresh key from the key-grade random generator.
    static Ed25519Key generate();
    // The key pair defined by a 32-byte RFC 8032 private key (the "seed").
    static Ed25519Key from_seed(const SecretArray<32>& seed);

    const Ed25519Public& public_key() const { return pub_; }
    Ed25519Signature sign(ByteView msg) const;
    const SecretArray<32>& seed() const { return seed_; }

private:
    Ed25519Key() = default;
    SecretArray<32> seed_;
    Ed25519Public pub_{};
};

// True only for a valid signature of msg by pub.
bool ed25519_verify(const Ed25519Public& pub, ByteView msg, const Ed25519Signature& sig);

// 40 lowercase hex characters: the first 20 bytes of SHA-256("pave/v1/node-id" || pub).
std::string node_id(const Ed25519Public& pub);

}  // namespace pave
