#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "crypto/hkdf.h"
#include "crypto/hpke.h"
#include "crypto/x25519.h"

using namespace pave;

namespace {

Bytes hx(const std::string& s) {
    auto b = from_hex(s);
    REQUIRE_MESSAGE(b, s);
    return *b;
}

template <size_t N>
ByteArray<N> arr(const std::string& s) {
    auto b = hx(s);
    REQUIRE(b.size() == N);
    ByteArray<N> out{};
    std::memcpy(out.data(), b.data(), N);
    return out;
}

SecretArray<32> secret(const std::string& s) {
    SecretArray<32> out;
    out.b = arr<32>(s);
    return out;
}

template <size_t N>
std::string hex_of(const SecretArray<N>& s) {
    return to_hex(s.b);
}

// The RFC 9180 test vector file: header fields, then "seq=" records, then
// "exporter_context=" records, as key=value lines.
struct HpkeVectors {
    std::map<std::string, std::string> setup;
    std::vector<std::map<std::string, std::string>> encryptions;
    std::vector<std::map<std::string, std::string>> exports;
};

HpkeVectors load_vectors() {
    std::ifstream in(std::string(PAVE_VECTORS_DIR) + "/hpke_rfc9180_a2_1.txt");
    REQUIRE_MESSAGE(in.good(), "missing tests/vectors/hpke_rfc9180_a2_1.txt");
    HpkeVectors v;
    std::map<std::string, std::string>* cur = &v.setup;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find('=');
        REQUIRE(eq != std::string::npos);
        auto k = line.substr(0, eq), val = line.substr(eq + 1);
        if (k == "seq") {
            v.encryptions.emplace_back();
            cur = &v.encryptions.back();
        } else if (k == "exporter_context") {
            v.exports.emplace_back();
            cur = &v.exports.back();
        }
        (*cur)[k] = val;
    }
    return v;
}

}  // namespace

TEST_CASE("x25519: RFC 7748 section 5.2 and 6.1 vectors") {
    auto out = x25519_shared(secret("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                             arr<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
    REQUIRE(out);
    CHECK(hex_of(*out) == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    out = x25519_shared(secret("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                        arr<32>("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"));
    REQUIRE(out);
    CHECK(hex_of(*out) == "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");

    // Iterated test: k = u = 9, then u, k = k, X25519(k, u).
    SecretArray<32> k;
    k.b = ByteArray<32>{9};
    ByteArray<32> u{9};
    for (int i = 1; i <= 1000; ++i) {
        auto r = x25519_shared(k, u);
        REQUIRE(r);
        u = k.b;
        k = *r;
        if (i == 1) CHECK(hex_of(k) == "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
    CHECK(hex_of(k) == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");

    // Section 6.1: Diffie-Hellman.
    auto alice = X25519Key::from_private(secret("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    auto bob = X25519Key::from_private(secret("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
    CHECK(to_hex(alice.pub) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    CHECK(to_hex(bob.pub) == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    auto s1 = x25519_shared(alice.priv, bob.pub);
    auto s2 = x25519_shared(bob.priv, alice.pub);
    REQUIRE(s1);
    REQUIRE(s2);
    CHECK(hex_of(*s1) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    CHECK(s1->b == s2->b);
}

TEST_CASE("x25519: low-order peer keys give nullopt") {
    auto k = X25519Key::generate();
    CHECK_FALSE(x25519_shared(k.priv, ByteArray<32>{}));     // 0
    CHECK_FALSE(x25519_shared(k.priv, ByteArray<32>{1}));    // 1
    // A point of order 8.
    CHECK_FALSE(x25519_shared(k.priv, arr<32>("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")));
    CHECK(x25519_shared(k.priv, X25519Key::generate().pub).has_value());
}

TEST_CASE("hkdf: RFC 5869 A.1 vector and limits") {
    auto ikm = hx("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    auto salt = hx("000102030405060708090a0b0c");
    auto info = hx("f0f1f2f3f4f5f6f7f8f9");
    auto prk = hkdf::extract(salt, ikm);
    CHECK(hex_of(prk) == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    auto okm = hkdf::expand(prk.b, info, 42);
    CHECK(to_hex(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

    CHECK(hkdf::expand(prk.b, info, hkdf::kMaxOutput).size() == hkdf::kMaxOutput);
    CHECK(hkdf::expand(prk.b, info, hkdf::kMaxOutput + 1).empty());
    CHECK(hkdf::expand(ByteView(prk.data(), 31), info, 32).empty());
    CHECK(hkdf::expand(prk.b, info, 0).empty());
    // A shorter output is a prefix of a longer one.
    auto okm10 = hkdf::expand(prk.b, info, 10);
    CHECK(Bytes(okm.begin(), okm.begin() + 10) == okm10);
}

TEST_CASE("hpke: RFC 9180 A.2.1 base mode vectors") {
    auto v = load_vectors();
    auto& s = v.setup;
    REQUIRE(s["mode"] == "0");
    REQUIRE(s["kem_id"] == "32");
    REQUIRE(s["kdf_id"] == "1");
    REQUIRE(s["aead_id"] == "3");
    REQUIRE(v.encryptions.size() == 6);
    REQUIRE(v.exports.size() == 3);
    auto info = hx(s["info"]);

    // DeriveKeyPair.
    auto eph = hpke_internal::derive_key_pair(hx(s["ikmE"]));
    CHECK(hex_of(eph.priv) == s["skEm"]);
    CHECK(to_hex(eph.pub) == s["pkEm"]);
    auto recip = hpke_internal::derive_key_pair(hx(s["ikmR"]));
    CHECK(hex_of(recip.priv) == s["skRm"]);
    CHECK(to_hex(recip.pub) == s["pkRm"]);

    // The ephemeral injected from skEm, as an implementation without DeriveKeyPair would.
    auto injected = X25519Key::from_private(secret(s["skEm"]));
    CHECK(to_hex(injected.pub) == s["pkEm"]);
    auto skR = X25519Key::from_private(secret(s["skRm"]));
    auto pkR = arr<32>(s["pkRm"]);

    // Encap / Decap.
    auto e = hpke_internal::encap(pkR, injected);
    REQUIRE(e);
    CHECK(to_hex(e->enc) == s["enc"]);
    CHECK(hex_of(e->shared_secret) == s["shared_secret"]);
    auto d = hpke_internal::decap(e->enc, skR);
    REQUIRE(d);
    CHECK(hex_of(*d) == s["shared_secret"]);

    // Key schedule on both sides.
    auto sender = hpke_setup_base_sender(pkR, info, &injected);
    REQUIRE(sender);
    CHECK(to_hex(sender->enc) == s["enc"]);
    auto receiver = hpke_setup_base_receiver(sender->enc, skR, info);
    REQUIRE(receiver);
    for (const HpkeContext* ctx : {&sender->ctx, &*receiver}) {
        CHECK(hex_of(ctx->key_for_test()) == s["key"]);
        CHECK(to_hex(ctx->base_nonce_for_test().b) == s["base_nonce"]);
        CHECK(hex_of(ctx->exporter_secret_for_test()) == s["exporter_secret"]);
    }

    // Encryptions: walk the sequence from 0 to the last listed number; gaps carry other
    // messages so both sides advance as the RFC's listing assumes.
    std::map<uint64_t, const std::map<std::string, std::string>*> listed;
    for (const auto& enc : v.encryptions) listed[std::stoull(enc.at("seq"))] = &enc;
    REQUIRE(listed.count(256));
    size_t checked = 0;
    for (uint64_t seq = 0; seq <= 256; ++seq) {
        CAPTURE(seq);
        REQUIRE(sender->ctx.sequence() == seq);
        REQUIRE(receiver->sequence() == seq);
        auto it = listed.find(seq);
        if (it == listed.end()) {
            Bytes filler{uint8_t(seq)};
            auto ct = sender->ctx.seal({}, filler);
            auto pt = receiver->open({}, ct);
            REQUIRE(pt);
            CHECK(*pt == filler);
            continue;
        }
        const auto& rec = *it->second;
        auto aad = hx(rec.at("aad"));
        auto pt = hx(rec.at("pt"));
        auto ct = sender->ctx.seal(aad, pt);
        CHECK(to_hex(ct) == rec.at("ct"));
        // A wrong aad fails and does not advance the receiver.
        auto bad_aad = aad;
        bad_aad.push_back(0);
        CHECK_FALSE(receiver->open(bad_aad, ct));
        CHECK(receiver->sequence() == seq);
        auto opened = receiver->open(aad, hx(rec.at("ct")));
        REQUIRE(opened);
        CHECK(*opened == pt);
        ++checked;
    }
    CHECK(checked == 6);

    // Exports, on both sides.
    for (const auto& ex : v.exports) {
        auto ctx_bytes = hx(ex.at("exporter_context"));
        size_t len = std::stoul(ex.at("L"));
        CHECK(to_hex(sender->ctx.export_secret(ctx_bytes, len)) == ex.at("exported_value"));
        CHECK(to_hex(receiver->export_secret(ctx_bytes, len)) == ex.at("exported_value"));
    }
}

TEST_CASE("hpke: round trip with random keys, roles and replays") {
    auto skR = X25519Key::generate();
    Bytes info{'i', 'n', 'f', 'o'};
    auto sender = hpke_setup_base_sender(skR.pub, info);
    REQUIRE(sender);
    auto receiver = hpke_setup_base_receiver(sender->enc, skR, info);
    REQUIRE(receiver);

    Bytes m1{1, 2, 3}, m2{4, 5};
    auto c1 = sender->ctx.seal({}, m1);
    auto c2 = sender->ctx.seal({}, m2);
    CHECK(c1.size() == m1.size() + 16);
    // Out of order: c2 does not open at sequence 0.
    CHECK_FALSE(receiver->open({}, c2));
    REQUIRE(receiver->open({}, c1) == m1);
    CHECK_FALSE(receiver->open({}, c1));  // replay fails: the sequence moved on
    REQUIRE(receiver->open({}, c2) == m2);

    // A sender context cannot open, a receiver context cannot seal.
    CHECK_FALSE(sender->ctx.open({}, c1));
    CHECK(receiver->seal({}, m1).empty());

    // Wrong info or wrong key: different context, nothing opens.
    auto fresh = hpke_setup_base_sender(skR.pub, info);
    REQUIRE(fresh);
    auto ct = fresh->ctx.seal({}, m1);
    auto wrong_info = hpke_setup_base_receiver(fresh->enc, skR, Bytes{'x'});
    REQUIRE(wrong_info);
    CHECK_FALSE(wrong_info->open({}, ct));
    auto wrong_key = hpke_setup_base_receiver(fresh->enc, X25519Key::generate(), info);
    REQUIRE(wrong_key);
    CHECK_FALSE(wrong_key->open({}, ct));
    CHECK(wrong_info->export_secret({}, 32) != fresh->ctx.export_secret({}, 32));

    // Export length limits.
    CHECK(fresh->ctx.export_secret({}, 255 * 32).size() == 255 * 32);
    CHECK(fresh->ctx.export_secret({}, 255 * 32 + 1).empty());

    // A moved-from context is emptied and refuses to seal (no nonce reuse).
    HpkeContext moved = std::move(fresh->ctx);
    CHECK(fresh->ctx.seal({}, m1).empty());
    CHECK(fresh->ctx.export_secret({}, 32).empty());
    CHECK(moved.sequence() == 1);
    CHECK(moved.seal({}, m1).size() == m1.size() + 16);
}

TEST_CASE("hpke: low-order keys are refused") {
    Bytes info;
    CHECK_FALSE(hpke_setup_base_sender(ByteArray<32>{}, info));
    CHECK_FALSE(hpke_setup_base_sender(ByteArray<32>{1}, info));
    auto skR = X25519Key::generate();
    CHECK_FALSE(hpke_setup_base_receiver(ByteArray<32>{}, skR, info));
}
