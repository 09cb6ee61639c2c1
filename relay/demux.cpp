#include "relay/demux.h"

#include "relay/address_check.h"
#include "relay/stun.h"

namespace pave {

namespace {

// WireGuard message sizes: the data message is a 16-byte header, a payload padded to a
// multiple of 16 (possibly empty, a keepalive) and a 16-byte tag.
constexpr size_t kWgInitiationSize = 148;
constexpr size_t kWgResponseSize = 92;
constexpr size_t kWgCookieReplySize = 64;
constexpr size_t kWgDataMinSize = 32;

bool is_wireguard(ByteView p) {
    if (p.size() < 4) return false;
    if (p[1] != 0 || p[2] != 0 || p[3] != 0) return false;
    switch (p[0]) {
        case 1: return p.size() == kWgInitiationSize;
        case 2: return p.size() == kWgResponseSize;
        case 3: return p.size() == kWgCookieReplySize;
        // Transport data: WireGuard pads its plaintext to 16 bytes but never past the MTU, so a
        // full-size packet (MTU 1420: 1452 bytes) is not a multiple of 16; only the minimum holds.
        case 4: return p.size() >= kWgDataMinSize;
        default: return false;
    }
}

bool is_stun(ByteView p) {
    if (p.size() < kStunHeaderSize || p.size() % 4 != 0) return false;
    if (p[0] != 0x00 && p[0] != 0x01) return false;
    const uint32_t cookie = (uint32_t(p[4]) << 24) | (uint32_t(p[5]) << 16) | (uint32_t(p[6]) << 8) | p[7];
    if (cookie != kStunMagicCookie) return false;
    const size_t length = (size_t(p[2]) << 8) | p[3];
    return length + kStunHeaderSize == p.size();
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
    return PacketKind::unknown;
}

const char* packet_kind_name(PacketKind k) {
    switch (k) {
        case PacketKind::wireguard: return "wireguard";
        case PacketKind::stun: return "stun";
        case PacketKind::dht: return "dht";
        case PacketKind::control: return "control";
        case PacketKind::address_check: return "address_check";
        case PacketKind::unknown: break;
    }
    return "unknown";
}

}  // namespace pave
