#include <doctest/doctest.h>

#include <cstring>
#include <string_view>

#include "crypto/aead.h"
#include "crypto/hex.h"

using namespace pave;

namespace {

Bytes hx(const char* s) {
    auto b = from_hex(s);
    REQUIRE(b);
    return *b;
}

// RFC 8439 section 2.8.2.
struct Rfc8439 {
    Bytes key = hx("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    Bytes nonce = hx("070000004041424344454647");
    Bytes aad = hx("50515253c0c1c2c3c4c5c6c7");
    Bytes pt;
    Bytes ct = hx(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b29"
        "05d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b"
        "6116");
    Bytes tag = hx("1ae10b594f09e26a7e902ecbd0600691");
    Rfc8439() {
        std::string_view text =
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would "
            "be it.";
        pt.assign(text.begin(), text.end());
    }
    Bytes sealed() const {
        Bytes out = ct;
        out.insert(out.end(), tag.begin(), tag.end());
        return out;
    }
};

}  // namespace

TEST_CASE("aead: RFC 8439 section 2.8.2 vector") {
    Rfc8439 v;
    REQUIRE(v.pt.size() == 114);
    auto sealed = aead_seal(v.key.data(), v.nonce.data(), v.aad, v.pt);
    CHECK(to_hex(sealed) == to_hex(v.sealed()));

    auto opened = aead_open(v.key.data(), v.nonce.data(), v.aad, v.sealed());
    REQUIRE(opened);
    CHECK(*opened == v.pt);

    // Pointer versions, in place.
    Bytes buf = v.pt;
    buf.resize(v.pt.size() + kAeadTag);
    aead_seal(v.key.data(), v.nonce.data(), v.aad, ByteView(buf.data(), v.pt.size()), buf.data());
    CHECK(buf == v.sealed());
    CHECK(aead_open(v.key.data(), v.nonce.data(), v.aad, buf, buf.data()));
    CHECK(Bytes(buf.begin(), buf.begin() + long(v.pt.size())) == v.pt);
}

TEST_CASE("aead: any change is rejected and the output wiped") {
    Rfc8439 v;
    auto sealed = v.sealed();
    for (size_t i = 0; i < sealed.size(); ++i) {
        auto bad = sealed;
        bad[i] ^= 0x01;
        CHECK_FALSE(aead_open(v.key.data(), v.nonce.data(), v.aad, bad));
    }
    auto bad_aad = v.aad;
    bad_aad[0] ^= 1;
    CHECK_FALSE(aead_open(v.key.data(), v.nonce.data(), bad_aad, sealed));
    CHECK_FALSE(aead_open(v.key.data(), v.nonce.data(), {}, sealed));
    auto bad_nonce = v.nonce;
    bad_nonce[11] ^= 1;
    CHECK_FALSE(aead_open(v.key.data(), bad_nonce.data(), v.aad, sealed));
    auto bad_key = v.key;
    bad_key[0] ^= 1;
    CHECK_FALSE(aead_open(bad_key.data(), v.nonce.data(), v.aad, sealed));

    // Truncations, including shorter than a tag.
    for (size_t n = 0; n < sealed.size(); ++n)
        CHECK_FALSE(aead_open(v.key.data(), v.nonce.data(), v.aad, ByteView(sealed.data(), n)));

    // On failure the pointer version leaves zeros, not unauthenticated plaintext.
    auto bad = sealed;
    bad.back() ^= 1;
    Bytes out(v.pt.size(), 0xaa);
    CHECK_FALSE(aead_open(v.key.data(), v.nonce.data(), v.aad, bad, out.data()));
    CHECK(out == Bytes(v.pt.size(), 0));
}

TEST_CASE("aead: empty plaintext and empty aad") {
    uint8_t key[kAeadKey] = {1};
    uint8_t nonce[kAeadNonce] = {2};
    auto sealed = aead_seal(key, nonce, {}, {});
    CHECK(sealed.size() == kAeadTag);
    auto opened = aead_open(key, nonce, {}, sealed);
    REQUIRE(opened);
    CHECK(opened->empty());
    sealed[0] ^= 1;
    CHECK_FALSE(aead_open(key, nonce, {}, sealed));
}
