#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "crypto/byte_writer.h"
#include "relay/wire/address_check.h"
#include "relay/wire/demux.h"
#include "relay/wire/stun.h"
#include "relay/wire/wireguard_shape.h"

using namespace pave;

namespace {

// len bytes of 0xAA under a WireGuard header (type, three zero reserved bytes), cut to len.
Bytes wg(uint8_t type, size_t len) {
    Bytes b(len, 0xAA);
    // A short packet keeps as much of the header as fits.
    Bytes head{type, 0, 0, 0};
    ByteWriter(std::span<uint8_t>(b)).put(ByteView(head).first(std::min<size_t>(len, 4)));
    return b;
}

// len bytes of 0x5A under a STUN header: b0, b1, the length field for len, the magic cookie.
Bytes stun(uint8_t b0, uint8_t b1, size_t len) {
    Bytes b(len, 0x5A);
    ByteWriter w{std::span<uint8_t>(b)};
    w.u8(b0) && w.u8(b1) && w.u16be(uint16_t(len - 20)) && w.u32be(kStunMagicCookie);
    return b;
}

}  // namespace

TEST_CASE("demux: WireGuard message sizes") {
    CHECK(classify(wg(1, 148)) == PacketKind::wireguard);
    CHECK(classify(wg(1, 147)) == PacketKind::unknown);
    CHECK(classify(wg(1, 149)) == PacketKind::unknown);
    CHECK(classify(wg(2, 92)) == PacketKind::wireguard);
    CHECK(classify(wg(2, 91)) == PacketKind::unknown);
    CHECK(classify(wg(2, 93)) == PacketKind::unknown);
    CHECK(classify(wg(3, 64)) == PacketKind::wireguard);
    CHECK(classify(wg(3, 63)) == PacketKind::unknown);
    CHECK(classify(wg(3, 65)) == PacketKind::unknown);
    CHECK(classify(wg(4, 32)) == PacketKind::wireguard);
    CHECK(classify(wg(4, 48)) == PacketKind::wireguard);
    CHECK(classify(wg(4, 1440)) == PacketKind::wireguard);
    CHECK(classify(wg(4, 31)) == PacketKind::unknown);
    // full-size data at MTU 1420 (16 + 1420 + 16), not a multiple of 16
    CHECK(classify(wg(4, 1452)) == PacketKind::wireguard);
    CHECK(classify(wg(4, 33)) == PacketKind::wireguard);
    CHECK(classify(wg(4, 47)) == PacketKind::wireguard);
    CHECK(classify(wg(4, 16)) == PacketKind::unknown);
    // Types outside 1..4 and non-zero reserved bytes.
    CHECK(classify(wg(5, 148)) == PacketKind::unknown);
    CHECK(classify(wg(0, 148)) == PacketKind::unknown);
    for (size_t i = 1; i < 4; ++i) {
        Bytes b = wg(1, 148);
        b[i] = 1;
        CHECK(classify(b) == PacketKind::unknown);
        Bytes d = wg(4, 64);
        d[i] = 0x80;
        CHECK(classify(d) == PacketKind::unknown);
    }
    // Shorter than the 4-byte header.
    CHECK(classify(Bytes{0x04}) == PacketKind::unknown);
    CHECK(classify(Bytes{0x04, 0, 0}) == PacketKind::unknown);
    CHECK(classify(Bytes{0x04, 0, 0, 0}) == PacketKind::unknown);
}

TEST_CASE("demux: STUN header rules") {
    CHECK(classify(stun(0x00, 0x01, 20)) == PacketKind::stun);
    CHECK(classify(stun(0x01, 0x01, 20)) == PacketKind::stun);
    CHECK(classify(stun(0x00, 0x01, 28)) == PacketKind::stun);
    CHECK(classify(stun(0x01, 0x11, 548)) == PacketKind::stun);
    // First byte 0x02 and above are not STUN here.
    CHECK(classify(stun(0x02, 0x01, 20)) == PacketKind::unknown);
    CHECK(classify(stun(0x40, 0x01, 20)) == PacketKind::unknown);
    // Bad cookie, each byte.
    for (size_t i = 4; i < 8; ++i) {
        Bytes b = stun(0x00, 0x01, 24);
        b[i] ^= 0x01;
        CHECK(classify(b) == PacketKind::unknown);
    }
    // Length field disagreeing with the datagram size.
    Bytes b = stun(0x00, 0x01, 24);
    b[3] = 8;
    CHECK(classify(b) == PacketKind::unknown);
    b[3] = 0;
    CHECK(classify(b) == PacketKind::unknown);
    // Size not a multiple of 4 (length field consistent with it).
    Bytes odd = stun(0x00, 0x01, 20);
    odd.push_back(0);
    odd[3] = 1;
    CHECK(classify(odd) == PacketKind::unknown);
    // Truncated header.
    Bytes full = stun(0x00, 0x01, 20);
    for (size_t n = 0; n < 20; ++n) CHECK(classify(ByteView(full).first(n)) == PacketKind::unknown);
}

TEST_CASE("demux: WireGuard and STUN share first byte 0x01 without ambiguity") {
    // A 20-byte STUN message whose first four bytes look like a WireGuard initiation header.
    Bytes s = stun(0x01, 0x00, 20);
    CHECK(classify(s) == PacketKind::stun);
    // A WireGuard initiation carrying the cookie at offset 4 (its sender index) stays WireGuard.
    Bytes w = wg(1, 148);
    w[4] = 0x21;
    w[5] = 0x12;
    w[6] = 0xA4;
    w[7] = 0x42;
    CHECK(classify(w) == PacketKind::wireguard);
    // A binding success response (0x0101) is never WireGuard: byte 1 is non-zero.
    CHECK(classify(stun(0x01, 0x01, 148)) == PacketKind::stun);
}

TEST_CASE("demux: DHT, control and unknown first bytes") {
    for (int b = 0; b < 256; ++b) {
        Bytes p(48, 0x00);
        p[0] = uint8_t(b);
        const PacketKind k = classify(p);
        if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf) {
            CHECK(k == PacketKind::dht);
        } else if (b == kControlFrameByte) {
            CHECK(k == PacketKind::control);
        } else if (b == kAddressCheckByte) {
            CHECK(k == PacketKind::address_check);  // 48 bytes: the address-check size
        } else if (b == 0x04) {
            CHECK(k == PacketKind::wireguard);  // a 48-byte data message
        } else {
            CHECK(k == PacketKind::unknown);
        }
    }
    CHECK(classify(Bytes{0x7f}) == PacketKind::unknown);
    CHECK(classify(Bytes{0x90}) == PacketKind::unknown);
    CHECK(classify(Bytes{0xdd}) == PacketKind::unknown);
    CHECK(classify(Bytes{0xe0}) == PacketKind::unknown);
    CHECK(classify(Bytes{0x80}) == PacketKind::dht);
    CHECK(classify(Bytes{0x8f}) == PacketKind::dht);
    CHECK(classify(Bytes{kControlFrameByte}) == PacketKind::control);
    CHECK(classify(Bytes{0x4f}) == PacketKind::unknown);
    CHECK(classify(Bytes{kAddressCheckByte}) == PacketKind::unknown);  // not the address-check size
    CHECK(classify(Bytes(kAddressCheckSize + 1, kAddressCheckByte)) == PacketKind::unknown);
    CHECK(classify(Bytes{}) == PacketKind::unknown);
    CHECK(classify(ByteView()) == PacketKind::unknown);
}

TEST_CASE("demux: kind names") {
    CHECK(std::string(packet_kind_name(PacketKind::wireguard)) == "wireguard");
    CHECK(std::string(packet_kind_name(PacketKind::stun)) == "stun");
    CHECK(std::string(packet_kind_name(PacketKind::dht)) == "dht");
    CHECK(std::string(packet_kind_name(PacketKind::control)) == "control");
    CHECK(std::string(packet_kind_name(PacketKind::unknown)) == "unknown");
}

TEST_CASE("demux: every packet the STUN code builds is classified as STUN") {
    StunTxId tx{};
    CHECK(classify(build_binding_request(tx)) == PacketKind::stun);
    auto ep = Endpoint::parse("192.0.2.1:32853");
    REQUIRE(ep);
    CHECK(classify(build_binding_success(tx, *ep)) == PacketKind::stun);
    CHECK(classify(build_error_420(tx, {0x0024})) == PacketKind::stun);
}

TEST_CASE("demux: a datagram is WireGuard exactly when the WireGuard parser accepts it") {
    size_t wireguard = 0;
    for (uint8_t type = 0; type <= 5; ++type)
        for (size_t len = 0; len <= 1500; ++len)
            for (uint8_t reserved : {uint8_t(0), uint8_t(1)}) {
                Bytes b = wg(type, len);
                if (len > 3) b[3] = reserved;
                const bool is_wg = classify(b) == PacketKind::wireguard;
                CHECK(is_wg == parse_wireguard(b).has_value());
                wireguard += is_wg;
            }
    // Initiation, response and cookie reply at one size each, transport from 32 bytes up.
    CHECK(wireguard == 3 + (1500 - kWgTransportMinSize + 1));
}
