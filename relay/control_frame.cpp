#include "relay/control_frame.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "relay/demux.h"

namespace pave {

namespace {

constexpr size_t kProbeBody = 16 + 1;
constexpr size_t kProbeAckBody = 16 + 18;
constexpr size_t kPingBody = 8 + 8;
constexpr size_t kCloseBody = 1;
constexpr size_t kRebindBody = 16;
constexpr size_t kMaxPlaintext = kMaxFrameSize - kFrameHeader - kAeadTag;

void put_u64(Bytes& out, uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}
void put_u64(uint8_t* out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[i] = uint8_t(v >> (8 * (7 - i)));
}
uint64_t get_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}
template <size_t N>
void put_array(Bytes& out, const ByteArray<N>& a) {
    out.insert(out.end(), a.begin(), a.end());
}
template <size_t N>
ByteArray<N> get_array(const uint8_t* p) {
    ByteArray<N> a;
    std::memcpy(a.data(), p, N);
    return a;
}

void make_nonce(uint64_t counter, uint8_t nonce[kAeadNonce]) {
    std::memset(nonce, 0, 4);
    put_u64(nonce + 4, counter);
}

}  // namespace

FrameType frame_type(const Frame& f) {
    struct V {
        FrameType operator()(const ProbeFrame&) const { return FrameType::probe; }
        FrameType operator()(const ProbeAckFrame&) const { return FrameType::probe_ack; }
        FrameType operator()(const PingFrame&) const { return FrameType::ping; }
        FrameType operator()(const PongFrame&) const { return FrameType::pong; }
        FrameType operator()(const CloseFrame&) const { return FrameType::close; }
        FrameType operator()(const RebindFrame&) const { return FrameType::rebind; }
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
    }
    return "unknown";
}

Bytes encode_frame_plaintext(const Frame& f) {
    Bytes out;
    out.reserve(1 + kProbeAckBody);
    out.push_back(uint8_t(frame_type(f)));
    struct V {
        Bytes& o;
        void operator()(const ProbeFrame& b) const {
            put_array(o, b.challenge);
            o.push_back(b.attempt);
        }
        void operator()(const ProbeAckFrame& b) const {
            put_array(o, b.challenge);
            put_array(o, b.observed);
        }
        void operator()(const PingFrame& b) const {
            put_u64(o, b.id);
            put_u64(o, b.sent_us);
        }
        void operator()(const PongFrame& b) const {
            put_u64(o, b.id);
            put_u64(o, b.echoed_sent_us);
        }
        void operator()(const CloseFrame& b) const { o.push_back(b.reason); }
        void operator()(const RebindFrame& b) const { put_array(o, b.challenge); }
    };
    std::visit(V{out}, f);
    return out;
}

std::optional<Frame> decode_frame_plaintext(ByteView pt) {
    if (pt.empty()) return std::nullopt;
    const uint8_t type = pt[0];
    const size_t n = pt.size() - 1;
    const uint8_t* b = pt.data() + 1;
    switch (type) {
        case uint8_t(FrameType::probe):
            if (n != kProbeBody) return std::nullopt;
            return ProbeFrame{get_array<16>(b), b[16]};
        case uint8_t(FrameType::probe_ack):
            if (n != kProbeAckBody) return std::nullopt;
            return ProbeAckFrame{get_array<16>(b), get_array<18>(b + 16)};
        case uint8_t(FrameType::ping):
            if (n != kPingBody) return std::nullopt;
            return PingFrame{get_u64(b), get_u64(b + 8)};
        case uint8_t(FrameType::pong):
            if (n != kPingBody) return std::nullopt;
            return PongFrame{get_u64(b), get_u64(b + 8)};
        case uint8_t(FrameType::close):
            if (n != kCloseBody) return std::nullopt;
            return CloseFrame{b[0]};
        case uint8_t(FrameType::rebind):
            if (n != kRebindBody) return std::nullopt;
            return RebindFrame{get_array<16>(b)};
        default:
            return std::nullopt;  // unknown, or reserved (payment)
    }
}

ByteArray<18> encode_observed(const Endpoint& ep) {
    ByteArray<18> out{};
    const Bytes ip = ep.ip_bytes();
    if (ip.size() == 4) {
        out[10] = 0xff;
        out[11] = 0xff;
        std::memcpy(out.data() + 12, ip.data(), 4);
    } else if (ip.size() == 16) {
        std::memcpy(out.data(), ip.data(), 16);
    } else {
        return out;  // not an address: all zero, which decode_observed rejects
    }
    const uint16_t port = ep.port();
    out[16] = uint8_t(port >> 8);
    out[17] = uint8_t(port);
    return out;
}

std::optional<Endpoint> decode_observed(const ByteArray<18>& b) {
    const uint16_t port = uint16_t((b[16] << 8) | b[17]);
    if (port == 0) return std::nullopt;
    if (std::all_of(b.begin(), b.begin() + 16, [](uint8_t x) { return x == 0; })) return std::nullopt;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b.data(), kMapped, 12) == 0) return Endpoint::from_ip_bytes(ByteView(b.data() + 12, 4), port);
    return Endpoint::from_ip_bytes(ByteView(b.data(), 16), port);
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
    : send_key_(keys.send_key), recv_key_(keys.recv_key), conn_id_(keys.conn_id) {}

Bytes FrameCodec::seal(const Frame& f) {
    if (exhausted_) return {};
    const uint64_t counter = send_counter_;
    if (counter == std::numeric_limits<uint64_t>::max()) {
        exhausted_ = true;
    } else {
        ++send_counter_;
    }
    const Bytes pt = encode_frame_plaintext(f);
    Bytes wire(kFrameHeader + pt.size() + kAeadTag);
    wire[0] = kControlFrameByte;
    std::memcpy(wire.data() + 1, conn_id_.data(), 8);
    put_u64(wire.data() + 9, counter);
    std::memcpy(wire.data() + kFrameHeader, pt.data(), pt.size());
    uint8_t nonce[kAeadNonce];
    make_nonce(counter, nonce);
    uint8_t* body = wire.data() + kFrameHeader;
    aead_seal(send_key_.data(), nonce, ByteView(wire.data(), kFrameHeader), ByteView(body, pt.size()), body);
    return wire;
}

FrameCodec::OpenError FrameCodec::open(ByteView wire, Frame& out) {
    if (wire.size() < kFrameOverhead || wire.size() > kMaxFrameSize) return OpenError::malformed;
    if (wire[0] != kControlFrameByte) return OpenError::malformed;
    if (std::memcmp(wire.data() + 1, conn_id_.data(), 8) != 0) return OpenError::wrong_conn;
    const uint64_t counter = get_u64(wire.data() + 9);
    if (!window_.check(counter)) return OpenError::replayed;

    uint8_t nonce[kAeadNonce];
    make_nonce(counter, nonce);
    uint8_t pt[kMaxPlaintext];
    const ByteView sealed = wire.subspan(kFrameHeader);
    const size_t pt_len = sealed.size() - kAeadTag;
    if (!aead_open(recv_key_.data(), nonce, wire.first(kFrameHeader), sealed, pt)) return OpenError::auth_failed;
    // Authentic: the counter is spent even if the body turns out to be malformed.
    window_.accept(counter);
    auto f = decode_frame_plaintext(ByteView(pt, pt_len));
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
    if (wire[0] != kControlFrameByte) return std::nullopt;
    return get_array<8>(wire.data() + 1);
}

}  // namespace pave
