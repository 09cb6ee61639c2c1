#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "crypto/ed25519_key.h"
#include "crypto/hex.h"

using namespace pave;

namespace {

template <size_t N>
ByteArray<N> arr(const char* hex) {
    auto b = from_hex(hex);
    REQUIRE(b);
    REQUIRE(b->size() == N);
    ByteArray<N> out{};
    std::memcpy(out.data(), b->data(), N);
    return out;
}

SecretArray<32> seed_of(const char* hex) {
    SecretArray<32> s;
    s.b = arr<32>(hex);
    return s;
}

struct Rfc8032Vector {
    const char* secret;
    const char* pub;
    const char* msg;
    const char* sig;
};

// RFC 8032 section 7.1, TEST 1, 2 and 3.
const Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
     "655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
     "b00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28d"
     "c027beceea1ec40a"},
};

}  // namespace

TEST_CASE("ed25519: RFC 8032 section 7.1 test vectors") {
    for (const auto& v : kVectors) {
        CAPTURE(v.pub);
        auto key = Ed25519Key::from_seed(seed_of(v.secret));
        CHECK(to_hex(key.public_key()) == v.pub);
        auto msg = from_hex(v.msg);
        REQUIRE(msg);
        auto sig = key.sign(*msg);
        CHECK(to_hex(sig) == v.sig);
        CHECK(ed25519_verify(key.public_key(), *msg, sig));
        CHECK(to_hex(key.seed().b) == v.secret);
    }
}

TEST_CASE("ed25519: verification rejects altered message, signature or key") {
    auto key = Ed25519Key::from_seed(seed_of(kVectors[2].secret));
    Bytes msg{0xaf, 0x82};
    auto sig = key.sign(msg);
    REQUIRE(ed25519_verify(key.public_key(), msg, sig));

    Bytes other = msg;
    other[1] ^= 1;
    CHECK_FALSE(ed25519_verify(key.public_key(), other, sig));
    Bytes longer = msg;
    longer.push_back(0);
    CHECK_FALSE(ed25519_verify(key.public_key(), longer, sig));
    CHECK_FALSE(ed25519_verify(key.public_key(), {}, sig));

    for (size_t i : {size_t(0), size_t(31), size_t(32), size_t(63)}) {
        auto bad = sig;
        bad[i] ^= 0x10;
        CHECK_FALSE(ed25519_verify(key.public_key(), msg, bad));
    }
    auto pub = key.public_key();
    pub[0] ^= 1;
    CHECK_FALSE(ed25519_verify(pub, msg, sig));
    CHECK_FALSE(ed25519_verify(Ed25519Public{}, msg, sig));
    CHECK_FALSE(ed25519_verify(key.public_key(), msg, Ed25519Signature{}));
}

TEST_CASE("ed25519: generated keys are distinct and sign") {
    auto a = Ed25519Key::generate();
    auto b = Ed25519Key::generate();
    CHECK(a.public_key() != b.public_key());
    Bytes msg{'p', 'a', 'v', 'e'};
    CHECK(ed25519_verify(a.public_key(), msg, a.sign(msg)));
    CHECK_FALSE(ed25519_verify(b.public_key(), msg, a.sign(msg)));
    // The same seed gives the same key.
    auto c = Ed25519Key::from_seed(a.seed());
    CHECK(c.public_key() == a.public_key());
}

TEST_CASE("node id: 40 lowercase hex chars of SHA-256(label || pub)") {
    auto key = Ed25519Key::from_seed(seed_of(kVectors[0].secret));
    auto id = node_id(key.public_key());
    CHECK(id.size() == 40);
    for (char c : id) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
    // SHA-256("pave/v1/node-id" || d75a98...511a), first 20 bytes, computed independently.
    CHECK(id == "e3b75f842a7a1d3caa0ed75f6ee5d857104acf11");
    auto pub = key.public_key();
    pub[31] ^= 1;
    CHECK(node_id(pub) != id);
}
