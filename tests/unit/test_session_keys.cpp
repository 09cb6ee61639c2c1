#include <doctest/doctest.h>

#include <cstring>

#include "crypto/hkdf.h"
#include "crypto/session_keys.h"
#include "crypto/x25519.h"

using namespace pave;

namespace {

ByteView text(const char* s) { return {reinterpret_cast<const uint8_t*>(s), std::strlen(s)}; }

}  // namespace

TEST_CASE("session keys: both ends derive the same keys from the ee exchange") {
    Bytes exported(32, 0x42);
    auto client = X25519Key::generate();
    auto relay = X25519Key::generate();
    auto s1 = x25519_shared(client.priv, relay.pub);
    auto s2 = x25519_shared(relay.priv, client.pub);
    REQUIRE(s1);
    REQUIRE(s2);
    auto k1 = derive_session_keys(exported, *s1);
    auto k2 = derive_session_keys(exported, *s2);
    REQUIRE(k1);
    REQUIRE(k2);
    CHECK(k1->client_to_relay.b == k2->client_to_relay.b);
    CHECK(k1->relay_to_client.b == k2->relay_to_client.b);
    CHECK(k1->conn_id == k2->conn_id);
    // Directions differ from each other.
    CHECK(k1->client_to_relay.b != k1->relay_to_client.b);
}

TEST_CASE("session keys: match the documented HKDF construction") {
    Bytes exported(32);
    for (size_t i = 0; i < 32; ++i) exported[i] = uint8_t(i);
    SecretArray<32> ee;
    for (size_t i = 0; i < 32; ++i) ee.b[i] = uint8_t(0x80 + i);
    auto keys = derive_session_keys(exported, ee);
    REQUIRE(keys);

    Bytes ikm = exported;
    ikm.insert(ikm.end(), ee.b.begin(), ee.b.end());
    auto prk = hkdf::extract(text("pave/v1/session"), ikm);
    auto c2r = hkdf::expand(prk.b, text("c2r"), 32);
    auto r2c = hkdf::expand(prk.b, text("r2c"), 32);
    auto cid = hkdf::expand(prk.b, text("conn-id"), 8);
    CHECK(Bytes(keys->client_to_relay.b.begin(), keys->client_to_relay.b.end()) == c2r);
    CHECK(Bytes(keys->relay_to_client.b.begin(), keys->relay_to_client.b.end()) == r2c);
    CHECK(Bytes(keys->conn_id.begin(), keys->conn_id.end()) == cid);
}

TEST_CASE("session keys: inputs change every output; bad inputs refused") {
    Bytes exported(32, 7);
    SecretArray<32> ee;
    ee.b.fill(9);
    auto base = derive_session_keys(exported, ee);
    REQUIRE(base);

    auto exported2 = exported;
    exported2[31] ^= 1;
    auto k = derive_session_keys(exported2, ee);
    REQUIRE(k);
    CHECK(k->client_to_relay.b != base->client_to_relay.b);
    CHECK(k->relay_to_client.b != base->relay_to_client.b);
    CHECK(k->conn_id != base->conn_id);

    auto ee2 = ee;
    ee2.b[0] ^= 1;
    k = derive_session_keys(exported, ee2);
    REQUIRE(k);
    CHECK(k->client_to_relay.b != base->client_to_relay.b);

    CHECK_FALSE(derive_session_keys(Bytes(31, 7), ee));
    CHECK_FALSE(derive_session_keys(Bytes(33, 7), ee));
    CHECK_FALSE(derive_session_keys({}, ee));
    CHECK_FALSE(derive_session_keys(exported, SecretArray<32>{}));
}
