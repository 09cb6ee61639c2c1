#include "relay/wire/control_frame.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "crypto/byte_reader.h"
#include "crypto/byte_writer.h"
#include "crypto/header_protection.h"
#include "crypto/hkdf.h"
#include "relay/wire/demux.h"

namespace pave {

namespace {

constexpr size_t kProbeBody = 16 + 1;
constexpr size_t kProbeAckBody = 16 + 18;
constexpr size_t kPingBody = 8 + 8;
constexpr size_t kCloseBody = 1;
constexpr size_t kRebindBody = 16;
constexpr size_t kKeypairBody = 4 + 4;
constexpr size_t kMaxPlaintext = kMaxFrameSize - kFrameHeader - kAeadTag;
constexpr size_t kCounterOffset = 1 + 8;
constexpr char kHpLabel[] = "pave/v1/header-protection";

// The fixed body length of a frame type; nullopt for unknown and reserved types.
std::optional<size_t> body_size(uint8_t type) {
    switch (type) {
        case uint8_t(FrameType::probe): return kProbeBody;
        case uint8_t(FrameType::probe_ack): return kProbeAckBody;
        case uint8_t(FrameType::ping):
        case uint8_t(FrameType::pong): return kPingBody;
        case uint8_t(FrameType::close): return kCloseBody;
        case uint8_t(FrameType::rebind): return kRebindBody;
        case uint8_t(FrameType::keypair): return kKeypairBody;
        default: return std::nullopt;
    }
}

SecretArray<32> hp_key(const SecretArray<32>& aead_key) {
    SecretArray<32> k;
    hkdf::expand_into(ByteView(aead_key.data(), 32),
                      ByteView(reinterpret_cast<const uint8_t*>(kHpLabel), sizeof kHpLabel - 1), k.b);
    return k;
}

// XORs the header-protection mask of this frame (sampled from its ciphertext) into the counter.
void toggle_counter(const SecretArray<32>& hp, uint8_t* wire) {
    uint8_t mask[8];
    header_protection_mask(hp, wire + kFrameHeader, mask);
    for (size_t i = 0; i < 8; ++i) wire[kCounterOffset + i] ^= mask[i];
}

void make_nonce(uint64_t counter, uint8_t nonce[kAeadNonce]) {
    ByteWriter w(std::span<uint8_t>(nonce, kAeadNonce));
    w.zeros(4);
    w.u64be(counter);
}

// The body of a frame of this type, read whole: exactly `body` bytes remain.
bool body_is(const ByteReader& r, size_t body) { return r.remaining() == body; }

}  // namespace

FrameType frame_type(const Frame& f) {
    struct V {
        FrameType operator()(const ProbeFrame&) const { return FrameType::probe; }
        FrameType operator()(const ProbeAckFrame&) const { return FrameType::probe_ack; }
        FrameType operator()(const PingFrame&) const { return FrameType::ping; }
        FrameType operator()(const PongFrame&) const { return FrameType::pong; }
        FrameType operator()(const CloseFrame&) const { return FrameType::close; }
        FrameType operator()(const RebindFrame&) const { return FrameType::rebind; }
        FrameType operator()(const KeypairFrame&) const { return FrameType::keypair; }
    };
    return std::visit(V{}, f);
}

const char* frame_type_name(FrameType t) {
    switch (t) {
        case FrameType::probe: return "probe";
        case FrameType::probe_ack: return "probe_ack";
        case FrameType::ping: return "ping";
        case FrameType::pong: return "pong";
        case FrameType::close: return "close";
        case FrameType::rebind: return "rebind";
        case FrameType::payment: return "payment";
        case FrameType::keypair: return "keypair";
    }
    return "unknown";
}

Bytes encode_frame_plaintext(const Frame& f) {
    Bytes out;
    out.reserve(1 + kProbeAckBody);
    ByteWriter w(out);
    w.u8(uint8_t(frame_type(f)));
    struct V {
        ByteWriter& w;
        void operator()(const ProbeFrame& b) const { w.put(b.challenge) && w.u8(b.attempt); }
        void operator()(const ProbeAckFrame& b) const { w.put(b.challenge) && w.put(b.observed); }
        void operator()(const PingFrame& b) const { w.u64be(b.id) && w.u64be(b.sent_us); }
        void operator()(const PongFrame& b) const { w.u64be(b.id) && w.u64be(b.echoed_sent_us); }
        void operator()(const CloseFrame& b) const { w.u8(b.reason); }
        void operator()(const RebindFrame& b) const { w.put(b.challenge); }
        void operator()(const KeypairFrame& b) const { w.u32be(b.client_index) && w.u32be(b.vpn_index); }
    };
    std::visit(V{w}, f);
    return out;
}

std::optional<Frame> decode_frame_plaintext(ByteView pt) {
    ByteReader r(pt);
    uint8_t type = 0;
    if (!r.u8(type)) return std::nullopt;
    switch (type) {
        case uint8_t(FrameType::probe): {
            ProbeFrame f;
            if (!body_is(r, kProbeBody) || !r.array(f.challenge) || !r.u8(f.attempt)) return std::nullopt;
            return f;
        }
        case uint8_t(FrameType::probe_ack): {
            ProbeAckFrame f;
            if (!body_is(r, kProbeAckBody) || !r.array(f.challenge) || !r.array(f.observed)) return std::nullopt;
            return f;
        }
        case uint8_t(FrameType::ping): {
            PingFrame f;
            if (!body_is(r, kPingBody) || !r.u64be(f.id) || !r.u64be(f.sent_us)) return std::nullopt;
            return f;
        }
        case uint8_t(FrameType::pong): {
            PongFrame f;
            if (!body_is(r, kPingBody) || !r.u64be(f.id) || !r.u64be(f.echoed_sent_us)) return std::nullopt;
            return f;
        }
        case uint8_t(FrameType::close): {
            CloseFrame f;
            if (!body_is(r, kCloseBody) || !r.u8(f.reason)) return std::nullopt;
            return f;
        }
        case uint8_t(FrameType::rebind): {
            RebindFrame f;
            if (!body_is(r, kRebindBody) || !r.array(f.challenge)) return std::nullopt;
            return f;
        }
        case uint8_t(FrameType::keypair): {
            KeypairFrame f;
            if (!body_is(r, kKeypairBody) || !r.u32be(f.client_index) || !r.u32be(f.vpn_index)) return std::nullopt;
            return f;
        }
        default:
            return std::nullopt;  // unknown, or reserved (payment)
    }
}

ByteArray<18> encode_observed(const Endpoint& ep) {
    // All zero for an invalid endpoint, which decode_observed rejects.
    return ep.mapped_key();
}

std::optional<Endpoint> decode_observed(const ByteArray<18>& b) {
    ByteReader r(b);
    ByteArray<16> ip;
    uint16_t port = 0;
    r.array(ip) && r.u16be(port);
    if (port == 0) return std::nullopt;
    if (std::all_of(ip.begin(), ip.end(), [](uint8_t x) { return x == 0; })) return std::nullopt;
    return Endpoint::from_ip16(ip, port);
}

size_t frame_size_class(size_t unpadded) {
    for (size_t c : kFrameSizeClasses)
        if (unpadded <= c) return c;
    return 0;
}

bool is_frame_size_class(size_t n) {
    return std::find(kFrameSizeClasses.begin(), kFrameSizeClasses.end(), n) != kFrameSizeClasses.end();
}

FrameKeys client_frame_keys(const SessionKeys& k) {
    FrameKeys f;
    f.send_key = k.client_to_relay;
    f.recv_key = k.relay_to_client;
    f.conn_id = k.conn_id;
    return f;
}

FrameKeys relay_frame_keys(const SessionKeys& k) {
    FrameKeys f;
    f.send_key = k.relay_to_client;
    f.recv_key = k.client_to_relay;
    f.conn_id = k.conn_id;
    return f;
}

FrameCodec::FrameCodec(const FrameKeys& keys)
    : send_key_(keys.send_key),
      recv_key_(keys.recv_key),
      send_hp_(hp_key(keys.send_key)),
      recv_hp_(hp_key(keys.recv_key)),
      conn_id_(keys.conn_id) {}

Bytes FrameCodec::seal(const Frame& f) {
    if (exhausted_) return {};
    const uint64_t counter = send_counter_;
    if (counter == std::numeric_limits<uint64_t>::max()) {
        exhausted_ = true;
    } else {
        ++send_counter_;
    }
    Bytes pt = encode_frame_plaintext(f);
    // Zero padding up to the frame's size class: sizes tell only the class.
    const size_t size = frame_size_class(kFrameHeader + pt.size() + kAeadTag);
    if (size == 0) return {};
    pt.resize(size - kFrameHeader - kAeadTag, 0);
    Bytes wire;
    wire.reserve(size);
    ByteWriter w(wire);
    w.u8(kControlFrameByte);
    w.put(conn_id_);
    w.u64be(counter);
    w.put(pt);
    w.zeros(kAeadTag);  // room for the tag
    uint8_t nonce[kAeadNonce];
    make_nonce(counter, nonce);
    uint8_t* body = wire.data() + kFrameHeader;
    aead_seal(send_key_.data(), nonce, ByteView(wire.data(), kFrameHeader), ByteView(body, pt.size()), body);
    toggle_counter(send_hp_, wire.data());  // the AAD was the header with the counter in the clear
    return wire;
}

FrameCodec::OpenError FrameCodec::open(ByteView wire, Frame& out) {
    if (!is_frame_size_class(wire.size())) return OpenError::malformed;
    if (wire[0] != kControlFrameByte) return OpenError::malformed;
    uint8_t header[kFrameHeader];
    std::memcpy(header, wire.data(), kFrameHeader);
    ByteArray<8> conn{};
    std::memcpy(conn.data(), header + 1, 8);
    if (conn != conn_id_) return OpenError::wrong_conn;
    // The counter in the clear (header protection removed), then the AEAD checks it with the rest.
    uint8_t mask[8];
    header_protection_mask(recv_hp_, wire.data() + kFrameHeader, mask);
    for (size_t i = 0; i < 8; ++i) header[kCounterOffset + i] ^= mask[i];
    uint64_t counter = 0;
    for (size_t i = 0; i < 8; ++i) counter = counter << 8 | header[kCounterOffset + i];
    if (!window_.check(counter)) return OpenError::replayed;

    uint8_t nonce[kAeadNonce];
    make_nonce(counter, nonce);
    uint8_t pt[kMaxPlaintext];
    const ByteView sealed = wire.subspan(kFrameHeader);
    const size_t pt_len = sealed.size() - kAeadTag;
    if (!aead_open(recv_key_.data(), nonce, ByteView(header, kFrameHeader), sealed, pt)) return OpenError::auth_failed;
    // Authentic: the counter is spent even if the body turns out to be malformed.
    window_.accept(counter);
    // [type | body | zeros]: the body length is the type's; the padding must be zeros.
    std::optional<Frame> f;
    if (auto body = body_size(pt[0]); body && 1 + *body <= pt_len &&
                                      std::all_of(pt + 1 + *body, pt + pt_len, [](uint8_t b) { return b == 0; }))
        f = decode_frame_plaintext(ByteView(pt, 1 + *body));
    secure_zero(pt, sizeof pt);
    if (!f) return OpenError::malformed;
    out = std::move(*f);
    return OpenError::none;
}

const char* to_string(FrameCodec::OpenError e) {
    switch (e) {
        case FrameCodec::OpenError::none: return "none";
        case FrameCodec::OpenError::malformed: return "malformed";
        case FrameCodec::OpenError::wrong_conn: return "wrong_conn";
        case FrameCodec::OpenError::auth_failed: return "auth_failed";
        case FrameCodec::OpenError::replayed: return "replayed";
    }
    return "unknown";
}

std::optional<ByteArray<8>> peek_conn_id(ByteView wire) {
    if (wire.size() < kFrameOverhead || wire.size() > kMaxFrameSize) return std::nullopt;
    ByteReader r(wire);
    ByteArray<8> conn{};
    if (!r.expect_u8(kControlFrameByte) || !r.array(conn)) return std::nullopt;
    return conn;
}

}  // namespace pave
