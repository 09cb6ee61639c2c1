#include "crypto/ed25519_key.h"

#include <nettle/eddsa.h>
#include <nettle/sha2.h>

#include <string_view>

#include "crypto/hex.h"
#include "crypto/random.h"

namespace pave {

namespace {
// nettle reads no byte for an empty message, but must still get a valid pointer.
const uint8_t* ptr_or_dummy(ByteView v) {
    static const uint8_t dummy = 0;
    return v.empty() ? &dummy : v.data();
}
}  // namespace

Ed25519Key Ed25519Key::generate() {
    SecretArray<32> seed;
    random_bytes(seed.b);
    return from_seed(seed);
}

Ed25519Key Ed25519Key::from_seed(const SecretArray<32>& seed) {
    Ed25519Key k;
    k.seed_ = seed;
    ed25519_sha512_public_key(k.pub_.data(), k.seed_.data());
    return k;
}

Ed25519Signature Ed25519Key::sign(ByteView msg) const {
    Ed25519Signature sig{};
    ed25519_sha512_sign(pub_.data(), seed_.data(), msg.size(), ptr_or_dummy(msg), sig.data());
    return sig;
}

bool ed25519_verify(const Ed25519Public& pub, ByteView msg, const Ed25519Signature& sig) {
    return ed25519_sha512_verify(pub.data(), msg.size(), ptr_or_dummy(msg), sig.data()) == 1;
}

std::string node_id(const Ed25519Public& pub) {
    static constexpr std::string_view kLabel = "pave/v1/node-id";
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, kLabel.size(), reinterpret_cast<const uint8_t*>(kLabel.data()));
    sha256_update(&ctx, pub.size(), pub.data());
    ByteArray<SHA256_DIGEST_SIZE> digest{};
    sha256_digest(&ctx, digest.size(), digest.data());
    return to_hex(ByteView(digest.data(), 20));
}

}  // namespace pave
