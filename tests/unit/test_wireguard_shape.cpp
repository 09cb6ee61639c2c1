#include <doctest/doctest.h>

#include <string>

#include "crypto/random.h"
#include "relay/wire/wireguard_shape.h"

using namespace pave;

namespace {

void put_le32(Bytes& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

Bytes wg(uint8_t type, size_t len) {
    Bytes b(len, 0xa5);
    const uint8_t head[4] = {type, 0, 0, 0};
    for (size_t i = 0; i < 4 && i < len; ++i) b[i] = head[i];
    return b;
}

}  // namespace

TEST_CASE("wireguard shape: the four message types and their indices") {
    Bytes init = wg(1, 148);
    put_le32(init, 4, 0x11223344);
    auto m = parse_wireguard(init);
    REQUIRE(m);
    CHECK(m->type == WgType::initiation);
    CHECK(m->sender_index == 0x11223344);
    CHECK(m->receiver_index == 0);

    Bytes resp = wg(2, 92);
    put_le32(resp, 4, 0xdeadbeef);
    put_le32(resp, 8, 0x01020304);
    m = parse_wireguard(resp);
    REQUIRE(m);
    CHECK(m->type == WgType::response);
    CHECK(m->sender_index == 0xdeadbeef);
    CHECK(m->receiver_index == 0x01020304);

    Bytes cookie = wg(3, 64);
    put_le32(cookie, 4, 0xcafef00d);
    m = parse_wireguard(cookie);
    REQUIRE(m);
    CHECK(m->type == WgType::cookie_reply);
    CHECK(m->receiver_index == 0xcafef00d);
    CHECK(m->sender_index == 0);

    Bytes keepalive = wg(4, 32);
    put_le32(keepalive, 4, 7);
    for (int i = 0; i < 8; ++i) keepalive[8 + i] = uint8_t(i + 1);
    m = parse_wireguard(keepalive);
    REQUIRE(m);
    CHECK(m->type == WgType::transport);
    CHECK(m->receiver_index == 7);
    CHECK(m->counter == 0x0807060504030201ull);

    CHECK(parse_wireguard(wg(4, 48)));
    CHECK(parse_wireguard(wg(4, 32 + 1424)));
    CHECK(std::string(to_string(WgType::cookie_reply)) == "cookie_reply");
}

TEST_CASE("wireguard shape: wrong lengths are refused") {
    for (size_t len : {0, 1, 3, 4, 31, 147, 149, 200}) CHECK_FALSE(parse_wireguard(wg(1, len)));
    for (size_t len : {0, 4, 32, 91, 93, 148}) CHECK_FALSE(parse_wireguard(wg(2, len)));
    for (size_t len : {0, 32, 63, 65, 92}) CHECK_FALSE(parse_wireguard(wg(3, len)));
    for (size_t len : {0, 4, 16, 31}) CHECK_FALSE(parse_wireguard(wg(4, len)));
    // WireGuard pads to 16 bytes only up to the MTU: a full packet at MTU 1420 is
    // 16 + 1420 + 16 = 1452 bytes, not a whole number of blocks, and must pass.
    for (size_t len : {33, 47, 49, 63, 1452}) CHECK(parse_wireguard(wg(4, len)));
    CHECK(parse_wireguard(wg(4, kWgMaxDatagram)));
    CHECK_FALSE(parse_wireguard(wg(4, 65536)));
    CHECK_FALSE(parse_wireguard(ByteView{}));
}

TEST_CASE("wireguard shape: type and reserved bytes") {
    for (int t : {0, 5, 0x80, 0xde, 0xff}) CHECK_FALSE(parse_wireguard(wg(uint8_t(t), 148)));
    for (size_t i = 1; i < 4; ++i) {
        Bytes b = wg(1, 148);
        b[i] = 1;
        CHECK_FALSE(parse_wireguard(b));
        Bytes d = wg(4, 32);
        d[i] = 0x80;
        CHECK_FALSE(parse_wireguard(d));
    }
}

TEST_CASE("wireguard shape: other protocols sharing the socket are refused") {
    // STUN binding request: type 0x0001, length 0, magic cookie, transaction id (20 bytes).
    Bytes stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    stun.resize(20, 0x5a);
    CHECK_FALSE(parse_wireguard(stun));
    // A STUN binding response padded to 148 bytes: type 0x0101, so reserved bytes are not zero.
    Bytes stun_resp = {0x01, 0x01, 0x00, 0x80, 0x21, 0x12, 0xa4, 0x42};
    stun_resp.resize(148, 0);
    CHECK_FALSE(parse_wireguard(stun_resp));
    // DNS query header (id 0x0100, flags 0x0100, one question) at a WireGuard length.
    Bytes dns = {0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00};
    dns.resize(148, 0);
    CHECK_FALSE(parse_wireguard(dns));
    // OpenDHT msgpack map.
    Bytes dht = wg(0x84, 64);
    CHECK_FALSE(parse_wireguard(dht));
    // Random data of every WireGuard length: the type and reserved bytes must match by chance.
    size_t accepted = 0;
    for (int i = 0; i < 2000; ++i) {
        Bytes r(i % 2 ? 148 : 64);
        random_bytes(r);
        if (auto m = parse_wireguard(r)) {
            ++accepted;
            CHECK(r[1] == 0);
            CHECK(r[2] == 0);
            CHECK(r[3] == 0);
        }
    }
    CHECK(accepted < 5);
}
