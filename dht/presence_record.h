// The presence record a relay publishes in the directory.
//
// Wire form (msgpack): [version=1, node_pub bin(32), inbox_pub bin(32), period_secs uint,
// period uint, capacity uint, expires uint (unix seconds), signature bin(64)].
// The Ed25519 signature covers a domain label and the canonical encoding of the first seven
// fields. A record carries no address: the relay is reached only through its inbox.
#pragma once
#include <cstdint>
#include <optional>

#include "crypto/bytes.h"
#include "crypto/ed25519_key.h"

namespace pave {

inline constexpr uint8_t kPresenceVersion = 1;
inline constexpr size_t kPresenceMaxSize = 256;  // checked before any parsing

struct PresenceRecord {
    uint8_t version = kPresenceVersion;
    Ed25519Public node_pub{};
    ByteArray<32> inbox_pub{};
    uint32_t period_secs = 0;
    uint64_t period = 0;
    uint32_t capacity = 0;
    uint64_t expires = 0;
    Ed25519Signature signature{};
};

enum class PresenceError { none, too_large, malformed, unknown_version, bad_signature };
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

}  // namespace pave
