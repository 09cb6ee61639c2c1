#include "relay/wireguard_shape.h"

namespace pave {
namespace {

uint32_t le32(ByteView b, size_t at) {
    return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}

uint64_t le64(ByteView b, size_t at) { return uint64_t(le32(b, at)) | uint64_t(le32(b, at + 4)) << 32; }

}  // namespace

std::optional<WgMessage> parse_wireguard(ByteView pkt) {
    if (pkt.size() < kWgTransportMinSize || pkt.size() > kWgMaxDatagram) return std::nullopt;
    if (pkt[1] != 0 || pkt[2] != 0 || pkt[3] != 0) return std::nullopt;
    WgMessage m;
    switch (pkt[0]) {
    case 1:
        if (pkt.size() != kWgInitiationSize) return std::nullopt;
        m.type = WgType::initiation;
        m.sender_index = le32(pkt, 4);
        return m;
    case 2:
        if (pkt.size() != kWgResponseSize) return std::nullopt;
        m.type = WgType::response;
        m.sender_index = le32(pkt, 4);
        m.receiver_index = le32(pkt, 8);
        return m;
    case 3:
        if (pkt.size() != kWgCookieReplySize) return std::nullopt;
        m.type = WgType::cookie_reply;
        m.receiver_index = le32(pkt, 4);
        return m;
    case 4:
        m.type = WgType::transport;
        m.receiver_index = le32(pkt, 4);
        m.counter = le64(pkt, 8);
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
