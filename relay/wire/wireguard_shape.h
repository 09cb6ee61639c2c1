// The outer shape of WireGuard messages, as the relay sees them (WireGuard paper §5.4).
// The relay never decrypts anything; it only checks that a datagram has the type byte,
// reserved bytes and length of one of the four WireGuard messages and reads the clear
// session indices, so it can tie handshake responses and cookie replies to initiations.
// The sizes are declared here once; the demultiplexer (relay/wire/demux.h) classifies a datagram
// as WireGuard exactly when parse_wireguard accepts it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "crypto/bytes.h"

namespace pave {

enum class WgType : uint8_t { initiation = 1, response = 2, cookie_reply = 3, transport = 4 };

inline constexpr size_t kWgInitiationSize = 148;
inline constexpr size_t kWgResponseSize = 92;
inline constexpr size_t kWgCookieReplySize = 64;
inline constexpr size_t kWgTransportHeaderSize = 16;  // type, receiver index, counter
inline constexpr size_t kWgTagSize = 16;              // Poly1305 tag
inline constexpr size_t kWgTransportMinSize = kWgTransportHeaderSize + kWgTagSize;  // keepalive
// The largest payload of a UDP datagram (IPv6 without jumbograms).
inline constexpr size_t kWgMaxDatagram = 65527;

struct WgMessage {
    WgType type = WgType::initiation;
    // initiation, response: the sender's index; 0 for the others.
    uint32_t sender_index = 0;
    // response, cookie reply, transport: the receiver's index; 0 for initiation.
    uint32_t receiver_index = 0;
    // transport: the nonce counter; 0 for the others.
    uint64_t counter = 0;
};

// The message type and indices if `pkt` is WireGuard-shaped, std::nullopt otherwise:
// type 1..4, three zero reserved bytes, and the exact length of that type (transport: at
// least kWgTransportMinSize bytes). A transport message's length is not checked further:
// WireGuard pads its plaintext to a multiple of 16 but never past the MTU, so a full-size
// packet (MTU 1420: 1452 bytes) is not a whole number of 16-byte blocks.
// At most kWgMaxDatagram bytes; reads no byte before checking the length; never throws.
std::optional<WgMessage> parse_wireguard(ByteView pkt);

const char* to_string(WgType t);

}  // namespace pave
