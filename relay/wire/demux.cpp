#include "relay/wire/demux.h"

#include "crypto/byte_reader.h"
#include "relay/wire/address_check.h"
#include "relay/wire/rendezvous_frame.h"
#include "relay/wire/stun.h"
#include "relay/wire/wireguard_shape.h"

namespace pave {

namespace {

// The WireGuard parser's own rule, so the two agree by construction.
bool is_wireguard(ByteView p) { return parse_wireguard(p).has_value(); }

bool is_stun(ByteView p) {
    if (p.size() < kStunHeaderSize || p.size() % 4 != 0) return false;
    ByteReader r(p);
    uint8_t first = 0;
    uint16_t length = 0;
    if (!r.u8(first) || first > 0x01 || !r.skip(1) || !r.u16be(length) || !r.expect_u32be(kStunMagicCookie))
        return false;
    return size_t(length) + kStunHeaderSize == p.size();
}

bool is_dht(ByteView p) {
    if (p.empty()) return false;
    const uint8_t b = p[0];
    return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
}

}  // namespace

PacketKind classify(ByteView pkt) {
    if (pkt.empty()) return PacketKind::unknown;
    if (is_wireguard(pkt)) return PacketKind::wireguard;
    if (is_stun(pkt)) return PacketKind::stun;
    if (is_dht(pkt)) return PacketKind::dht;
    if (pkt[0] == kControlFrameByte) return PacketKind::control;
    if (pkt[0] == kAddressCheckByte && pkt.size() == kAddressCheckSize) return PacketKind::address_check;
    if (is_rendezvous_frame(pkt)) return PacketKind::rendezvous;
    return PacketKind::unknown;
}

const char* packet_kind_name(PacketKind k) {
    switch (k) {
        case PacketKind::wireguard: return "wireguard";
        case PacketKind::stun: return "stun";
        case PacketKind::dht: return "dht";
        case PacketKind::control: return "control";
        case PacketKind::address_check: return "address_check";
        case PacketKind::rendezvous: return "rendezvous";
        case PacketKind::unknown: break;
    }
    return "unknown";
}

}  // namespace pave
