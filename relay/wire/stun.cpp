#include "relay/wire/stun.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "crypto/byte_reader.h"
#include "crypto/byte_writer.h"
#include "crypto/random.h"

namespace pave {

namespace {

// XOR-MAPPED-ADDRESS masks the address with the magic cookie and then the transaction id.
std::array<uint8_t, 16> xor_mask(const StunTxId& tx) {
    std::array<uint8_t, 16> mask{};
    ByteWriter w(mask);
    w.u32be(kStunMagicCookie) && w.put(tx);
    return mask;
}

constexpr uint32_t kFingerprintXor = 0x5354554e;
constexpr size_t kMaxAttributes = 64;  // far above any real Binding message
constexpr char kReason420[] = "Unknown Attribute";

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
        t[i] = c;
    }
    return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

size_t pad4(size_t n) { return (n + 3) & ~size_t(3); }

bool is_response(uint16_t type) { return (type & 0x0100) == 0x0100; }

// Comprehension-required attributes understood in a message of this class. Requests: none (no
// authentication, no extensions). Responses: the address attributes, including the RFC 3489
// ones some servers still add, and the error attributes; MESSAGE-INTEGRITY is accepted unverified
// (this client never sends credentials, so it has nothing to check it against).
bool understood_required(uint16_t msg_type, uint16_t attr) {
    if (!is_response(msg_type)) return false;
    switch (attr) {
        case kStunAttrMappedAddress:
        case 0x0004:  // SOURCE-ADDRESS (RFC 3489)
        case 0x0005:  // CHANGED-ADDRESS (RFC 3489)
        case kStunAttrMessageIntegrity:
        case kStunAttrErrorCode:
        case kStunAttrUnknownAttributes:
        case kStunAttrXorMappedAddress:
            return true;
        default:
            return false;
    }
}

// MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value; std::nullopt if malformed.
std::optional<Endpoint> parse_address(ByteView v, bool xored, const StunTxId& tx) {
    ByteReader r(v);
    uint8_t family = 0;
    uint16_t port = 0;
    if (!r.skip(1) || !r.u8(family) || !r.u16be(port)) return std::nullopt;
    size_t alen = 0;
    if (family == 0x01) alen = 4;
    else if (family == 0x02) alen = 16;
    else return std::nullopt;
    std::array<uint8_t, 16> ip{};
    if (r.remaining() != alen || !r.bytes(ip.data(), alen)) return std::nullopt;
    if (xored) {
        port ^= uint16_t(kStunMagicCookie >> 16);
        const auto mask = xor_mask(tx);
        for (size_t i = 0; i < alen; ++i) ip[i] ^= mask[i];
    }
    return Endpoint::from_ip_bytes(ByteView(ip.data(), alen), port);
}

constexpr size_t kLengthAt = 2;

void put_header(ByteWriter& w, uint16_t type, const StunTxId& tx) {
    w.u16be(type) && w.u16be(0) /* length, set by finish_with_fingerprint */ && w.u32be(kStunMagicCookie) &&
        w.put(tx);
}

// Appends FINGERPRINT; the length field must already count it (RFC 5389 §15.5).
void finish_with_fingerprint(ByteWriter& w) {
    w.u16be(kStunAttrFingerprint) && w.u16be(4) && w.u32be(0);
    if (!w.patch_u16be(kLengthAt, uint16_t(w.size() - kStunHeaderSize))) return;
    const size_t at = w.size() - 4;
    w.patch_u32be(at, stun_crc32(w.written().first(at - 4)) ^ kFingerprintXor);
}

}  // namespace

uint32_t stun_crc32(ByteView data) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::optional<StunMessage> parse_stun_message(ByteView msg) {
    if (msg.size() < kStunHeaderSize || msg.size() % 4 != 0) return std::nullopt;
    ByteReader r(msg);
    StunMessage m;
    uint16_t type = 0, length = 0;
    if (!r.u16be(type) || !r.u16be(length) || !r.expect_u32be(kStunMagicCookie) || !r.array(m.txid))
        return std::nullopt;
    if (type & 0xC000) return std::nullopt;
    if (size_t(length) != r.remaining()) return std::nullopt;
    m.type = type;

    bool after_integrity = false;
    size_t count = 0;
    while (!r.at_end()) {
        if (++count > kMaxAttributes) return std::nullopt;
        const size_t off = r.offset();
        uint16_t at = 0, alen = 0;
        ByteView value;
        if (!r.u16be(at) || !r.u16be(alen) || !r.view(alen, value) || !r.skip(pad4(alen) - alen))
            return std::nullopt;

        if (m.has_fingerprint) return std::nullopt;  // FINGERPRINT must be the last attribute
        if (at == kStunAttrFingerprint) {
            uint32_t fp = 0;
            if (alen != 4 || !ByteReader(value).u32be(fp)) return std::nullopt;
            if (fp != (stun_crc32(msg.first(off)) ^ kFingerprintXor)) return std::nullopt;
            m.has_fingerprint = true;
        } else if (!after_integrity) {
            if (at == kStunAttrMessageIntegrity) {
                m.has_integrity = true;
                after_integrity = true;
            }
            if (at == kStunAttrXorMappedAddress && !m.xor_mapped)
                m.xor_mapped = parse_address(value, true, m.txid);
            else if (at == kStunAttrMappedAddress && !m.mapped)
                m.mapped = parse_address(value, false, m.txid);
            else if (at == kStunAttrErrorCode && !m.error_code && alen >= 4)
                m.error_code = uint16_t((value[2] & 0x07) * 100 + value[3]);
            if (at < 0x8000 && !understood_required(type, at) &&
                std::find(m.unknown_required.begin(), m.unknown_required.end(), at) ==
                    m.unknown_required.end() &&
                m.unknown_required.size() < kStunMaxUnknownListed)
                m.unknown_required.push_back(at);
        }
    }
    return m;
}

std::optional<StunRequest> parse_binding_request(ByteView msg) {
    auto m = parse_stun_message(msg);
    if (!m || m->type != kStunBindingRequest) return std::nullopt;
    StunRequest r;
    r.txid = m->txid;
    r.unknown_required = std::move(m->unknown_required);
    return r;
}

Bytes build_binding_success(const StunTxId& tx, const Endpoint& mapped) {
    const Bytes ip = mapped.ip_bytes();
    if (!mapped.valid() || (ip.size() != 4 && ip.size() != 16)) return {};
    Bytes out;
    out.reserve(kStunHeaderSize + 4 + 20 + 8);
    ByteWriter w(out);
    put_header(w, kStunBindingSuccess, tx);
    w.u16be(kStunAttrXorMappedAddress) && w.u16be(uint16_t(4 + ip.size())) && w.u8(0) &&
        w.u8(ip.size() == 4 ? 0x01 : 0x02) && w.u16be(uint16_t(mapped.port() ^ (kStunMagicCookie >> 16)));
    const auto mask = xor_mask(tx);
    for (size_t i = 0; i < ip.size(); ++i) w.u8(uint8_t(ip[i] ^ mask[i]));
    finish_with_fingerprint(w);
    if (!w.ok()) return {};
    return out;
}

Bytes build_error_420(const StunTxId& tx, const std::vector<uint16_t>& unknown) {
    const size_t k = std::min(unknown.size(), kStunMaxUnknownListed);
    const size_t reason_len = sizeof(kReason420) - 1;
    Bytes out;
    out.reserve(kStunHeaderSize + 4 + pad4(4 + reason_len) + 4 + pad4(2 * k) + 8);
    ByteWriter w(out);
    put_header(w, kStunBindingError, tx);
    w.u16be(kStunAttrErrorCode) && w.u16be(uint16_t(4 + reason_len)) && w.u16be(0) && w.u8(4) /* class */ &&
        w.u8(20) /* number */ && w.put(ByteView(reinterpret_cast<const uint8_t*>(kReason420), reason_len)) &&
        w.pad_to(4);
    w.u16be(kStunAttrUnknownAttributes) && w.u16be(uint16_t(2 * k));
    for (size_t i = 0; i < k; ++i) w.u16be(unknown[i]);
    w.pad_to(4);
    finish_with_fingerprint(w);
    if (!w.ok()) return {};
    return out;
}

StunAction handle_request(ByteView in, const Endpoint& from, Bytes& out) {
    out.clear();
    if (!from.valid() || from.port() == 0) return StunAction::ignore;
    auto req = parse_binding_request(in);
    if (!req) return StunAction::ignore;
    if (!req->unknown_required.empty()) {
        out = build_error_420(req->txid, req->unknown_required);
        return StunAction::answer_420;
    }
    out = build_binding_success(req->txid, from);
    if (out.empty()) return StunAction::ignore;
    return StunAction::answer_success;
}

Bytes build_binding_request(StunTxId& out_tx) {
    random_bytes(std::span<uint8_t>(out_tx));
    Bytes out;
    ByteWriter w(out);
    put_header(w, kStunBindingRequest, out_tx);
    return out;
}

std::optional<Endpoint> parse_binding_response(ByteView msg, const StunTxId& expected) {
    auto m = parse_stun_message(msg);
    if (!m || m->type != kStunBindingSuccess || m->txid != expected) return std::nullopt;
    if (!m->unknown_required.empty()) return std::nullopt;
    std::optional<Endpoint> ep = m->xor_mapped ? m->xor_mapped : m->mapped;
    if (!ep || ep->port() == 0) return std::nullopt;
    return ep;
}

NatMapping classify_nat_mapping(std::span<const StunObservation> obs) {
    std::vector<const StunObservation*> v;
    for (const auto& o : obs)
        if (o.reflector.valid() && o.mapped.valid()) v.push_back(&o);
    bool two_ips = false;
    bool differs = false;
    for (size_t i = 0; i < v.size(); ++i) {
        for (size_t j = i + 1; j < v.size(); ++j) {
            const bool same_reflector = v[i]->reflector == v[j]->reflector;
            const bool same_mapping = v[i]->mapped == v[j]->mapped;
            if (same_reflector) {
                if (!same_mapping) return NatMapping::unknown;
                continue;
            }
            if (!same_mapping) differs = true;
            if (!v[i]->reflector.same_ip(v[j]->reflector)) two_ips = true;
        }
    }
    if (differs) return NatMapping::endpoint_dependent;
    if (two_ips) return NatMapping::endpoint_independent;
    return NatMapping::unknown;
}

const char* nat_mapping_name(NatMapping m) {
    switch (m) {
        case NatMapping::endpoint_independent: return "endpoint-independent";
        case NatMapping::endpoint_dependent: return "endpoint-dependent";
        case NatMapping::unknown: break;
    }
    return "unknown";
}

}  // namespace pave
