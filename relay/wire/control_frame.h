// PAVE control frames: everything PAVE itself sends on a session (path challenge / punch,
// keepalive, close, re-bind, later payment).
//
// Wire layout (all integers big-endian):
//   0      1 byte   kControlFrameByte (the demultiplexing rule, relay/wire/demux.h)
//   1      8 bytes  conn id (random per session, from the session keys)
//   9      8 bytes  counter (per direction, starts at 0, never reused), header-protected
//   17     n bytes  ChaCha20-Poly1305 ciphertext of [type (1) | body | zero padding]
//   17+n   16 bytes tag
// AAD = the 17 header bytes with the counter in the clear; nonce = 4 zero bytes || counter; one
// key per direction. Header protection (QUIC's, RFC 9001 §5.4, with ChaCha20): the counter is
// XORed with a mask computed from the first 16 ciphertext bytes under a per-direction key
// (HKDF-Expand of the AEAD key, "pave/v1/header-protection"), so no counter value (0, 1, 2 ...)
// is visible on the wire. Every frame is padded to a size class (kFrameSizeClasses): on the
// wire a frame shows its first byte, its session's conn id, its size class and random-looking
// bytes. Every type has a fixed body length; anything else (unknown type, wrong length,
// non-zero padding, a size that is no class) is malformed.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

#include "crypto/aead.h"
#include "crypto/bytes.h"
#include "crypto/session_keys.h"
#include "relay/wire/endpoint.h"
#include "relay/wire/replay_window.h"

namespace pave {

inline constexpr size_t kFrameHeader = 17;
inline constexpr size_t kFrameOverhead = kFrameHeader + 1 + kAeadTag;  // header + type + tag
inline constexpr size_t kMaxFrameSize = 256;
// The sizes a frame may have on the wire; each frame is padded to the smallest that fits it
// (PROBE, PING, PONG, CLOSE, REBIND, KEYPAIR: 64; PROBE_ACK: 96).
inline constexpr std::array<size_t, 2> kFrameSizeClasses{64, 96};
// The size class of a frame of `unpadded` bytes (0 if none fits).
size_t frame_size_class(size_t unpadded);
bool is_frame_size_class(size_t n);

enum class FrameType : uint8_t {
    probe = 1,
    probe_ack = 2,
    ping = 3,
    pong = 4,
    close = 5,
    rebind = 6,
    payment = 7,  // reserved; not decodable yet
    keypair = 8,
};

// Path challenge / punch.
struct ProbeFrame {
    ByteArray<16> challenge{};
    uint8_t attempt = 0;
    bool operator==(const ProbeFrame&) const = default;
};
// Echo of a probe's challenge plus the address the probe came from as the receiver saw it
// (see encode_observed), so the prober learns its reflexive address.
struct ProbeAckFrame {
    ByteArray<16> challenge{};
    ByteArray<18> observed{};
    bool operator==(const ProbeAckFrame&) const = default;
};
struct PingFrame {
    uint64_t id = 0;
    uint64_t sent_us = 0;
    bool operator==(const PingFrame&) const = default;
};
struct PongFrame {
    uint64_t id = 0;
    uint64_t echoed_sent_us = 0;
    bool operator==(const PongFrame&) const = default;
};
struct CloseFrame {
    uint8_t reason = 0;
    bool operator==(const CloseFrame&) const = default;
};
// "My address changed, validate me."
struct RebindFrame {
    ByteArray<16> challenge{};
    bool operator==(const RebindFrame&) const = default;
};

// Client -> relay: "the live WireGuard keypair is this one": the receiver index the VPN's
// transport data carries (the client's index) and the one the client's carries (the VPN's), so
// a relay that did not see its handshake may carry it under the gate's migration budget
// (relay/gate.h). The relay ignores it from a relay peer.
struct KeypairFrame {
    uint32_t client_index = 0;
    uint32_t vpn_index = 0;
    bool operator==(const KeypairFrame&) const = default;
};

using Frame = std::variant<ProbeFrame, ProbeAckFrame, PingFrame, PongFrame, CloseFrame, RebindFrame, KeypairFrame>;

FrameType frame_type(const Frame& f);
const char* frame_type_name(FrameType t);

// Plaintext [type | body]. decode rejects unknown types and wrong body lengths (never throws,
// never reads outside pt); encode(decode(x)) == x for every accepted x.
Bytes encode_frame_plaintext(const Frame& f);
std::optional<Frame> decode_frame_plaintext(ByteView pt);

// The 18-byte observed address of a probe_ack: 16-byte IPv6 (IPv4 as v4-mapped) then the
// port. decode_observed gives IPv4 back for v4-mapped addresses and nullopt for port 0 or
// the unspecified address.
ByteArray<18> encode_observed(const Endpoint& ep);
std::optional<Endpoint> decode_observed(const ByteArray<18>& b);

struct FrameKeys {
    SecretArray<32> send_key;
    SecretArray<32> recv_key;
    ByteArray<8> conn_id{};
};
// The keys of each side of a session: the client sends with client_to_relay, the relay with
// relay_to_client.
FrameKeys client_frame_keys(const SessionKeys& k);
FrameKeys relay_frame_keys(const SessionKeys& k);

// Seals and opens the control frames of one side of a session.
class FrameCodec {
public:
    enum class OpenError { none, malformed, wrong_conn, auth_failed, replayed };

    explicit FrameCodec(const FrameKeys& keys);

    // Uses and increments the send counter (starts at 0). Empty only if the counter space is
    // exhausted (2^64 frames), which would otherwise reuse a nonce.
    Bytes seal(const Frame& f);

    // Checks, in this order: size (a size class) and first byte (malformed), conn id
    // (wrong_conn), the unprotected counter against the replay window (replayed, before any
    // decryption), AEAD (auth_failed), then records the counter and decodes the body and its
    // zero padding (malformed). out is written only on success.
    OpenError open(ByteView wire, Frame& out);

    uint64_t next_send_counter() const { return send_counter_; }
    const ByteArray<8>& conn_id() const { return conn_id_; }

private:
    SecretArray<32> send_key_;
    SecretArray<32> recv_key_;
    SecretArray<32> send_hp_;  // header protection
    SecretArray<32> recv_hp_;
    ByteArray<8> conn_id_;
    uint64_t send_counter_ = 0;
    bool exhausted_ = false;
    ReplayWindow window_;
};

const char* to_string(FrameCodec::OpenError e);

// Cheap pre-dispatch without keys: the conn id of a well-sized control frame (first byte
// kControlFrameByte, kFrameOverhead..kMaxFrameSize bytes), nullopt otherwise.
std::optional<ByteArray<8>> peek_conn_id(ByteView wire);

}  // namespace pave
