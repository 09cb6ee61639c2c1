#include "dht/dht_wire.h"

#include <msgpack.hpp>

#include <string_view>

namespace pave {

namespace {

std::optional<uint32_t> read_tid(const msgpack::object& o) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
        if (o.via.u64 > UINT32_MAX) return std::nullopt;
        return uint32_t(o.via.u64);
    }
    if (o.type == msgpack::type::BIN && o.via.bin.size == 4) {
        const auto* p = reinterpret_cast<const uint8_t*>(o.via.bin.ptr);
        return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    }
    return std::nullopt;
}

}  // namespace

std::optional<DhtMessageInfo> inspect_dht_message(ByteView wire) {
    if (wire.empty() || wire.size() > kDhtMaxDatagram) return std::nullopt;
    const uint8_t b = wire[0];
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)) return std::nullopt;
    try {
        // Every element takes at least one byte, so the datagram's size bounds the counts.
        const size_t n = wire.size();
        msgpack::unpack_limit limit(n, n, n, n, n, 16);
        std::size_t off = 0;
        msgpack::object_handle oh =
            msgpack::unpack(reinterpret_cast<const char*>(wire.data()), n, off, nullptr, nullptr, limit);
        if (off != n) return std::nullopt;  // trailing bytes: not one message
        const msgpack::object& o = oh.get();
        if (o.type != msgpack::type::MAP) return std::nullopt;
        bool q = false, r = false, e = false, p = false, u = false;
        DhtMessageInfo info;
        for (uint32_t i = 0; i < o.via.map.size; ++i) {
            const auto& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) continue;
            std::string_view k(kv.key.via.str.ptr, kv.key.via.str.size);
            if (k == "q") q = true;
            else if (k == "r") r = true;
            else if (k == "e") e = true;
            else if (k == "p") p = true;
            else if (k == "u") u = true;
            else if (k == "t") info.tid = read_tid(kv.val);
        }
        // The order OpenDHT itself decides in (ParsedMessage::msgpack_unpack).
        if (e) info.kind = DhtMessageKind::error;
        else if (r) info.kind = DhtMessageKind::reply;
        else if (p) info.kind = DhtMessageKind::value_part;
        else if (u) info.kind = DhtMessageKind::listen_update;
        else if (q) info.kind = DhtMessageKind::request;
        else return std::nullopt;
        return info;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool mark_as_client(ByteView wire, std::vector<uint8_t>& out) {
    static const uint8_t pair[] = {0xa1, 's', 0xc3};  // fixstr "s", true
    if (wire.empty()) return false;
    const uint8_t h = wire[0];
    if (h >= 0x80 && h < 0x8f) {
        out.assign(wire.begin(), wire.end());
        out[0] = uint8_t(h + 1);
    } else if (h == 0x8f) {  // 15 pairs: the 16th needs the map16 header
        out.clear();
        out.reserve(wire.size() + 2 + sizeof pair);
        out.push_back(0xde);
        out.push_back(0x00);
        out.push_back(0x10);
        out.insert(out.end(), wire.begin() + 1, wire.end());
    } else if (h == 0xde && wire.size() >= 3) {
        unsigned n = unsigned(wire[1]) << 8 | wire[2];
        if (n == 0xffff) return false;
        ++n;
        out.assign(wire.begin(), wire.end());
        out[1] = uint8_t(n >> 8);
        out[2] = uint8_t(n);
    } else {
        return false;  // a map32 header is never sent by OpenDHT 2.4
    }
    out.insert(out.end(), pair, pair + sizeof pair);
    return true;
}

}  // namespace pave
