#include "relay/wire/wireguard_shape.h"

#include "crypto/byte_reader.h"

namespace pave {
std::optional<WgMessage> parse_wireguard(ByteView pkt) {
    if (pkt.size() < kWgTransportMinSize || pkt.size() > kWgMaxDatagram) return std::nullopt;
    ByteReader r(pkt);
    uint8_t type = 0;
    if (!r.u8(type) || !r.expect_u8(0) || !r.expect_u8(0) || !r.expect_u8(0)) return std::nullopt;
    WgMessage m;
    switch (type) {
    case 1:
        if (pkt.size() != kWgInitiationSize) return std::nullopt;
        m.type = WgType::initiation;
        r.u32le(m.sender_index);
        return m;
    case 2:
        if (pkt.size() != kWgResponseSize) return std::nullopt;
        m.type = WgType::response;
        r.u32le(m.sender_index) && r.u32le(m.receiver_index);
        return m;
    case 3:
        if (pkt.size() != kWgCookieReplySize) return std::nullopt;
        m.type = WgType::cookie_reply;
        r.u32le(m.receiver_index);
        return m;
    case 4:
        m.type = WgType::transport;
        r.u32le(m.receiver_index) && r.u64le(m.counter);
        return m;
    default:
        return std::nullopt;
    }
}

const char* to_string(WgType t) {
    switch (t) {
    case WgType::initiation: return "initiation";
    case WgType::response: return "response";
    case WgType::cookie_reply: return "cookie_reply";
    case WgType::transport: return "transport";
    }
    return "?";
}

}  // namespace pave
