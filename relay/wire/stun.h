// STUN Binding (RFC 5389), I/O-free: the server side every node runs on its sockets, and the
// client side used to learn a socket's public mapping.
//
// Server rules (RFC 5389 §7.3):
//  - Only a well-formed Binding Request (type 0x0001, magic cookie, length a multiple of 4 that
//    matches the datagram, attributes that fit exactly) is answered; responses, indications,
//    errors, other methods and RFC 3489 messages without the magic cookie are ignored.
//  - A FINGERPRINT attribute, if present, must be the last attribute and carry the right CRC,
//    otherwise the message is ignored. Attributes after MESSAGE-INTEGRITY other than FINGERPRINT
//    are ignored (§15.4).
//  - Comprehension-required attributes (type < 0x8000): this server performs no authentication
//    and implements no extension, so it understands none of them in a request. Any of them —
//    including USERNAME (0x0006), MESSAGE-INTEGRITY (0x0008), REALM, NONCE, CHANGE-REQUEST and the
//    ICE attributes — gets a 420 (Unknown Attribute) listing them (§7.3.1). Answering such a
//    request with an unauthenticated success would only make an authenticating client discard it
//    (§10.1.3); the 420 tells it at once that this server does no credentials.
//    Comprehension-optional attributes (SOFTWARE, FINGERPRINT, ...) are accepted or ignored.
//  - A success carries XOR-MAPPED-ADDRESS and FINGERPRINT only: 40 bytes (IPv4) or 52 bytes
//    (IPv6) for a request of at least 20 bytes, i.e. at most 2.6x amplification. A 420 is
//    60 + 4*ceil(k/2) bytes for k distinct unknown types (at most kStunMaxUnknownListed listed),
//    each of which cost the sender at least 4 bytes, so at most 64 bytes for a 24-byte request
//    (2.67x) and never more than 92 bytes. Answers are also rate-limited per source by the caller.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"

namespace pave {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderSize = 20;
inline constexpr size_t kStunMaxUnknownListed = 16;

// Message types (method Binding, the four classes).
inline constexpr uint16_t kStunBindingRequest = 0x0001;
inline constexpr uint16_t kStunBindingIndication = 0x0011;
inline constexpr uint16_t kStunBindingSuccess = 0x0101;
inline constexpr uint16_t kStunBindingError = 0x0111;

// Attribute types.
inline constexpr uint16_t kStunAttrMappedAddress = 0x0001;
inline constexpr uint16_t kStunAttrUsername = 0x0006;
inline constexpr uint16_t kStunAttrMessageIntegrity = 0x0008;
inline constexpr uint16_t kStunAttrErrorCode = 0x0009;
inline constexpr uint16_t kStunAttrUnknownAttributes = 0x000A;
inline constexpr uint16_t kStunAttrXorMappedAddress = 0x0020;
inline constexpr uint16_t kStunAttrSoftware = 0x8022;
inline constexpr uint16_t kStunAttrFingerprint = 0x8028;

using StunTxId = ByteArray<12>;

// One parsed STUN message (any class). Views nothing: everything needed is copied out.
struct StunMessage {
    uint16_t type = 0;
    StunTxId txid{};
    bool has_fingerprint = false;      // present (and, since parsing succeeded, correct)
    bool has_integrity = false;        // MESSAGE-INTEGRITY present (never verified: no credentials)
    std::optional<Endpoint> xor_mapped;  // first XOR-MAPPED-ADDRESS, if well-formed
    std::optional<Endpoint> mapped;      // first MAPPED-ADDRESS, if well-formed
    std::optional<uint16_t> error_code;  // ERROR-CODE as class*100+number, if well-formed
    // Comprehension-required attribute types this implementation does not understand for this
    // message's class, in order of appearance, without duplicates, at most kStunMaxUnknownListed.
    std::vector<uint16_t> unknown_required;
};

// Parses any STUN message with the magic cookie; std::nullopt if the header, the length, an
// attribute's bounds or the FINGERPRINT is wrong. Never throws on bad input.
std::optional<StunMessage> parse_stun_message(ByteView msg);

struct StunRequest {
    StunTxId txid{};
    std::vector<uint16_t> unknown_required;  // non-empty: the answer is a 420
};

// A well-formed Binding Request, or std::nullopt (anything else, which is never answered).
std::optional<StunRequest> parse_binding_request(ByteView msg);

// Binding success: XOR-MAPPED-ADDRESS(mapped) and FINGERPRINT. Empty if `mapped` is invalid.
Bytes build_binding_success(const StunTxId& tx, const Endpoint& mapped);
// Binding error 420: ERROR-CODE and UNKNOWN-ATTRIBUTES (the first kStunMaxUnknownListed types)
// and FINGERPRINT.
Bytes build_error_420(const StunTxId& tx, const std::vector<uint16_t>& unknown);

enum class StunAction { ignore, answer_success, answer_420 };

// Server side: `in` received from `from`. On answer_* `out` holds the datagram to send back to
// `from`; on ignore `out` is empty. Rate limiting is the caller's job (before calling this).
StunAction handle_request(ByteView in, const Endpoint& from, Bytes& out);

// Client side: a 20-byte Binding Request with a fresh random 96-bit transaction id.
Bytes build_binding_request(StunTxId& out_tx);

// Client side: the mapped address of a Binding success response to the request `expected`.
// Prefers XOR-MAPPED-ADDRESS, falls back to MAPPED-ADDRESS. std::nullopt for anything else:
// wrong class or transaction id, a bad FINGERPRINT, unknown comprehension-required attributes
// (§7.3.3) or no usable address.
std::optional<Endpoint> parse_binding_response(ByteView msg, const StunTxId& expected);

// CRC-32 (ISO-HDLC, as in RFC 5389 §15.5 before the XOR with 0x5354554e).
uint32_t stun_crc32(ByteView data);

// NAT mapping behaviour (RFC 4787 §4.1) from the addresses several reflectors reported for the
// same local socket.
enum class NatMapping { unknown, endpoint_independent, endpoint_dependent };

struct StunObservation {
    Endpoint reflector;  // the STUN server asked
    Endpoint mapped;     // the address it reported
};

// endpoint_dependent: two different reflectors (address or port) saw different mappings.
// endpoint_independent: reflectors on at least two different IP addresses all saw the same one.
// unknown: too few distinct reflectors, invalid entries only, or one reflector reported
// different mappings (the mapping changed during the measurement).
NatMapping classify_nat_mapping(std::span<const StunObservation> obs);

const char* nat_mapping_name(NatMapping m);

}  // namespace pave
