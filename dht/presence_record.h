// The presence record a relay publishes in the directory.
//
// Wire form (msgpack): [version=1, node_pub bin(32), inbox_pub bin(32), period_secs uint,
// period uint, capacity uint, expires uint (unix seconds), endpoints [bin(6|18)...], signature bin(64)].
// The Ed25519 signature covers a domain label and the canonical encoding of the first eight
// fields. The endpoints are the relay's public (reflexive) addresses: a client sends its
// rendezvous hellos there (relay/wire/rendezvous_frame.h), which opens its own NAT for the
// relay's answer and punch; relay addresses are public like any DHT node's.
//
// Every field has a named range, checked by the parser (decode_presence) before any use:
//   version      == kPresenceVersion
//   inbox_pub    an X25519 key that is not of low order (an offer can be sealed to it)
//   period_secs  in [kMinPeriodSecs, kMaxPeriodSecs] (never 0: clients divide by it)
//   period       such that the period's start, period * period_secs, is below kMaxPresenceTime
//   capacity     in [0, kMaxCapacity] (0: a relay that takes no session now)
//   expires      in (period * period_secs, (period + 2) * period_secs]: a relay publishes the
//                record of the current period and lets it live at most one period
//   endpoints    at most kPresenceMaxEndpoints, each 4+2 or 16+2 bytes (IPv4-mapped written as
//                IPv4), port not 0, a unicast address; whether a client may send there
//                (loopback, private) is its endpoint policy's call
// The checks against the reader's clock (expiry in the future but not too far, period close to
// the current one) depend on when the record is judged: see period_is_current() and Directory.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519_key.h"
#include "relay/wire/endpoint.h"

namespace pave {

inline constexpr uint8_t kPresenceVersion = 1;
inline constexpr size_t kPresenceMaxSize = 256;  // checked before any parsing
// Relays publish period_secs = max(--presence-ttl, 10 s); the CLI takes TTLs up to 7 days.
inline constexpr uint32_t kMinPeriodSecs = 10;
inline constexpr uint32_t kMaxPeriodSecs = 7 * 86400;
inline constexpr uint32_t kMaxCapacity = 1u << 20;
inline constexpr size_t kPresenceMaxEndpoints = 4;
// Unix seconds no record may reach (year 36812): keeps period arithmetic far from overflow.
inline constexpr uint64_t kMaxPresenceTime = uint64_t(1) << 40;
// How far the reader's clock may be from the relay's when judging a record's period.
inline constexpr uint64_t kPresenceClockSkewS = 60;

struct PresenceRecord {
    uint8_t version = kPresenceVersion;
    Ed25519Public node_pub{};
    ByteArray<32> inbox_pub{};
    uint32_t period_secs = 0;
    uint64_t period = 0;
    uint32_t capacity = 0;
    uint64_t expires = 0;
    std::vector<Endpoint> endpoints;  // at most kPresenceMaxEndpoints
    Ed25519Signature signature{};
};

enum class PresenceError {
    none,
    too_large,
    malformed,
    unknown_version,
    bad_signature,
    bad_inbox_key,    // a low-order X25519 point
    bad_period_secs,  // outside [kMinPeriodSecs, kMaxPeriodSecs]
    bad_period,       // period start at or beyond kMaxPresenceTime
    bad_capacity,     // above kMaxCapacity
    bad_expires,      // not within the two periods that start at the record's own period
    bad_endpoint,     // more than kPresenceMaxEndpoints, or one that is not a unicast address and port
};
const char* to_string(PresenceError e);

struct PresenceParse {
    std::optional<PresenceRecord> record;
    PresenceError error = PresenceError::none;
};

// Builds and signs a record with the node's key.
Bytes encode_presence(const PresenceRecord& fields, const Ed25519Key& key);
// Structural parse only (size, msgpack shape, types, lengths, version); no signature check.
PresenceParse decode_presence(ByteView value);
// Parse and verify the signature against the node key inside the record.
PresenceParse decode_and_verify_presence(ByteView value);

// The field checks of the parser, for a record built in memory (none when every field is in range).
PresenceError check_presence_fields(const PresenceRecord& r);

// True when a record's period is one the relay still holds a key for, as far as a reader with
// clock now_s can tell: within one period of the periods that now_s +- kPresenceClockSkewS
// falls into. Expects period_secs >= 1 (the parser guarantees kMinPeriodSecs).
bool period_is_current(const PresenceRecord& r, uint64_t now_s);

}  // namespace pave
