// Fuzzes the datagram classifier: no out-of-bounds read, the result agrees with the
// first-byte table (each class has its own first bytes, 0x01 aside), and a datagram is
// WireGuard exactly when the WireGuard parser accepts it.
#include <cstdlib>

#include "relay/wire/address_check.h"
#include "relay/wire/demux.h"
#include "relay/wire/rendezvous_frame.h"
#include "relay/wire/wireguard_shape.h"

using namespace pave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ByteView in(data, size);
    const PacketKind k = classify(in);
    if ((k == PacketKind::wireguard) != parse_wireguard(in).has_value()) std::abort();
    if (size == 0) {
        if (k != PacketKind::unknown) std::abort();
        return 0;
    }
    const uint8_t b = data[0];
    switch (k) {
        case PacketKind::wireguard:
            if (b < 1 || b > 4 || size < 32) std::abort();
            break;
        case PacketKind::stun:
            if (b > 1 || size < 20 || size % 4 != 0) std::abort();
            break;
        case PacketKind::dht:
            if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)) std::abort();
            break;
        case PacketKind::control:
            if (b != kControlFrameByte) std::abort();
            break;
        case PacketKind::address_check:
            if (b != kAddressCheckByte || size != kAddressCheckSize) std::abort();
            break;
        case PacketKind::rendezvous:
            if (b != kRendezvousFrameByte || (size != kRendezvousHelloSize && size != kRendezvousAnswerFrameSize) ||
                !parse_rendezvous_frame(in))
                std::abort();
            break;
        case PacketKind::unknown:
            if (is_rendezvous_frame(in)) std::abort();
            if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf || b == kControlFrameByte) std::abort();
            break;
    }
    if (k != PacketKind::rendezvous && parse_rendezvous_frame(in)) std::abort();
    (void)packet_kind_name(k);
    return 0;
}
