// Demultiplexing of the per-role UDP socket: every datagram is classified by its first bytes.
// The classes are disjoint by construction, so the order of the checks does not change the
// result:
//   wireguard  what parse_wireguard (relay/wire/wireguard_shape.h) accepts: first byte 0x01..0x04,
//              bytes 1..3 zero, and the exact WireGuard length of that type
//   stun       first byte 0x00/0x01, magic cookie 0x2112A442 at offset 4, length field + 20 == size,
//              size a multiple of 4 and >= 20
//   dht        first byte 0x80..0x8f, 0xde or 0xdf (a msgpack map)
//   control    first byte kControlFrameByte
//   address_check  first byte kAddressCheckByte and exactly kAddressCheckSize bytes
//   rendezvous first byte kRendezvousFrameByte and exactly kRendezvousHelloSize or
//              kRendezvousAnswerFrameSize bytes (relay/wire/rendezvous_frame.h)
// The only first byte shared by two classes is 0x01 (WireGuard initiation / STUN response). A
// WireGuard initiation is 148 bytes with bytes 2..3 zero, which a STUN parser reads as a length
// field of 0, i.e. a 20-byte message, so no datagram satisfies both rules.
#pragma once
#include <cstddef>
#include <cstdint>

#include "crypto/bytes.h"

namespace pave {

enum class PacketKind { wireguard, stun, dht, control, address_check, rendezvous, unknown };
inline constexpr size_t kPacketKindCount = 7;

// First byte of every PAVE control frame; outside the WireGuard, STUN and msgpack-map ranges.
inline constexpr uint8_t kControlFrameByte = 0x50;

// Never reads outside pkt; an empty packet is unknown.
PacketKind classify(ByteView pkt);

// Printable name ("wireguard", "stun", ...), for logs and counters.
const char* packet_kind_name(PacketKind k);

}  // namespace pave
