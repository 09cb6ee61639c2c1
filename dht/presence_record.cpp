#include "dht/presence_record.h"

#include <msgpack.hpp>

#include <cstring>

#include "crypto/x25519.h"
#include "relay/wire/endpoint_policy.h"

namespace pave {

namespace {

constexpr char kDomain[] = "pave/v1/presence";

void pack_fields(msgpack::packer<msgpack::sbuffer>& pk, const PresenceRecord& r, uint32_t array_len) {
    pk.pack_array(array_len);
    pk.pack_uint8(r.version);
    pk.pack_bin(32);
    pk.pack_bin_body(reinterpret_cast<const char*>(r.node_pub.data()), 32);
    pk.pack_bin(32);
    pk.pack_bin_body(reinterpret_cast<const char*>(r.inbox_pub.data()), 32);
    pk.pack_uint32(r.period_secs);
    pk.pack_uint64(r.period);
    pk.pack_uint32(r.capacity);
    pk.pack_uint64(r.expires);
    pk.pack_array(uint32_t(r.endpoints.size()));
    for (const auto& e : r.endpoints) {
        Bytes b = e.ip_bytes();
        b.push_back(uint8_t(e.port() >> 8));
        b.push_back(uint8_t(e.port()));
        pk.pack_bin(uint32_t(b.size()));
        pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), b.size());
    }
}

// One endpoint: 4 or 16 address bytes then the port (big endian); IPv4-mapped IPv6 is written
// as IPv4, so every endpoint has one encoding.
std::optional<Endpoint> read_endpoint(const msgpack::object& o) {
    if (o.type != msgpack::type::BIN || (o.via.bin.size != 6 && o.via.bin.size != 18)) return std::nullopt;
    const auto* p = reinterpret_cast<const uint8_t*>(o.via.bin.ptr);
    const size_t n = o.via.bin.size - 2;
    if (Endpoint::is_v4_mapped(ByteView(p, n))) return std::nullopt;
    return Endpoint::from_ip_bytes(ByteView(p, n), uint16_t(p[n] << 8 | p[n + 1]));
}

Bytes signed_message(const PresenceRecord& r) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pack_fields(pk, r, 8);
    Bytes msg(sizeof kDomain + buf.size());  // label including its NUL terminator, then the fields
    std::memcpy(msg.data(), kDomain, sizeof kDomain);
    std::memcpy(msg.data() + sizeof kDomain, buf.data(), buf.size());
    return msg;
}

template <size_t N>
bool read_bin(const msgpack::object& o, ByteArray<N>& out) {
    if (o.type != msgpack::type::BIN || o.via.bin.size != N) return false;
    std::memcpy(out.data(), o.via.bin.ptr, N);
    return true;
}

bool read_uint(const msgpack::object& o, uint64_t max, uint64_t& out) {
    if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > max) return false;
    out = o.via.u64;
    return true;
}

Bytes encode_signed(const PresenceRecord& r) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pack_fields(pk, r, 9);
    pk.pack_bin(64);
    pk.pack_bin_body(reinterpret_cast<const char*>(r.signature.data()), 64);
    return Bytes(buf.data(), buf.data() + buf.size());
}

}  // namespace

const char* to_string(PresenceError e) {
    switch (e) {
        case PresenceError::none: return "ok";
        case PresenceError::too_large: return "too large";
        case PresenceError::malformed: return "malformed";
        case PresenceError::unknown_version: return "unknown version";
        case PresenceError::bad_signature: return "bad signature";
        case PresenceError::bad_inbox_key: return "bad inbox key";
        case PresenceError::bad_period_secs: return "period length out of range";
        case PresenceError::bad_period: return "period out of range";
        case PresenceError::bad_capacity: return "capacity out of range";
        case PresenceError::bad_expires: return "expiry out of range";
        case PresenceError::bad_endpoint: return "endpoint out of range";
    }
    return "?";
}

PresenceError check_presence_fields(const PresenceRecord& r) {
    if (r.period_secs < kMinPeriodSecs || r.period_secs > kMaxPeriodSecs) return PresenceError::bad_period_secs;
    if (r.period >= kMaxPresenceTime / r.period_secs) return PresenceError::bad_period;
    if (r.capacity > kMaxCapacity) return PresenceError::bad_capacity;
    const uint64_t start = r.period * r.period_secs;  // < kMaxPresenceTime: no overflow below
    if (r.expires <= start || r.expires > start + 2 * uint64_t(r.period_secs)) return PresenceError::bad_expires;
    if (r.endpoints.size() > kPresenceMaxEndpoints) return PresenceError::bad_endpoint;
    for (const auto& e : r.endpoints) {
        if (!e.valid() || e.port() == 0 || (e.family() != AF_INET && e.family() != AF_INET6))
            return PresenceError::bad_endpoint;
        EndpointVerdict v = classify_address(e);
        if (v == EndpointVerdict::unspecified || v == EndpointVerdict::multicast || v == EndpointVerdict::broadcast)
            return PresenceError::bad_endpoint;
    }
    // A low-order inbox key makes every offer fail to seal: such a record can only be a fake.
    static const SecretArray<32> probe = [] {
        SecretArray<32> s;
        s.b.fill(0x5c);
        return s;
    }();
    if (!x25519_shared(probe, r.inbox_pub)) return PresenceError::bad_inbox_key;
    return PresenceError::none;
}

bool period_is_current(const PresenceRecord& r, uint64_t now_s) {
    if (r.period_secs == 0) return false;
    const uint64_t lo = (now_s > kPresenceClockSkewS ? now_s - kPresenceClockSkewS : 0) / r.period_secs;
    const uint64_t hi = (now_s + kPresenceClockSkewS) / r.period_secs;
    return (lo == 0 || r.period >= lo - 1) && r.period <= hi + 1;
}

Bytes encode_presence(const PresenceRecord& fields, const Ed25519Key& key) {
    PresenceRecord r = fields;
    r.version = kPresenceVersion;
    r.node_pub = key.public_key();
    r.signature = key.sign(signed_message(r));
    return encode_signed(r);
}

PresenceParse decode_presence(ByteView value) {
    PresenceParse res;
    if (value.size() > kPresenceMaxSize) {
        res.error = PresenceError::too_large;
        return res;
    }
    res.error = PresenceError::malformed;
    if (value.empty()) return res;
    try {
        // Limits bounded by the value's size (each element takes at least one byte), so that a
        // record of a later version with other fields still reads as an unknown version.
        msgpack::unpack_limit limit(kPresenceMaxSize, kPresenceMaxSize, kPresenceMaxSize, kPresenceMaxSize,
                                    kPresenceMaxSize, 8);
        std::size_t off = 0;
        msgpack::object_handle oh = msgpack::unpack(reinterpret_cast<const char*>(value.data()), value.size(), off,
                                                    nullptr, nullptr, limit);
        if (off != value.size()) return res;  // trailing bytes
        const msgpack::object& o = oh.get();
        if (o.type != msgpack::type::ARRAY || o.via.array.size < 1) return res;
        const msgpack::object* f = o.via.array.ptr;
        uint64_t version;
        if (!read_uint(f[0], 255, version)) return res;
        if (version != kPresenceVersion) {
            res.error = PresenceError::unknown_version;
            return res;
        }
        if (o.via.array.size != 9) return res;
        PresenceRecord r;
        uint64_t period_secs, capacity;
        if (!read_bin(f[1], r.node_pub) || !read_bin(f[2], r.inbox_pub) || !read_uint(f[3], UINT32_MAX, period_secs) ||
            !read_uint(f[4], UINT64_MAX, r.period) || !read_uint(f[5], UINT32_MAX, capacity) ||
            !read_uint(f[6], UINT64_MAX, r.expires) || f[7].type != msgpack::type::ARRAY ||
            f[7].via.array.size > kPresenceMaxEndpoints || !read_bin(f[8], r.signature))
            return res;
        for (uint32_t i = 0; i < f[7].via.array.size; ++i) {
            auto e = read_endpoint(f[7].via.array.ptr[i]);
            if (!e) return res;  // not an endpoint's encoding: malformed
            r.endpoints.push_back(*e);
        }
        r.version = uint8_t(version);
        r.period_secs = uint32_t(period_secs);
        r.capacity = uint32_t(capacity);
        // One record, one byte form: only the canonical encoding is accepted, so variants of a
        // signed record cannot pass as new values.
        if (encode_signed(r) != Bytes(value.begin(), value.end())) return res;
        res.error = check_presence_fields(r);
        if (res.error == PresenceError::none) res.record = r;
    } catch (const std::exception&) {
        // msgpack reports malformed or over-limit input by throwing
    }
    return res;
}

PresenceParse decode_and_verify_presence(ByteView value) {
    PresenceParse res = decode_presence(value);
    if (!res.record) return res;
    if (!ed25519_verify(res.record->node_pub, signed_message(*res.record), res.record->signature)) {
        res.record.reset();
        res.error = PresenceError::bad_signature;
    }
    return res;
}

}  // namespace pave
