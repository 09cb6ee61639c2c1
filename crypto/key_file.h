// The node's key file in its state directory: the Ed25519 seed, stored owner-only.
//
// Format (version 1, 108 bytes, binary):
//   magic "PAVE-KEY" (8) | version 0x01 | key type 0x01 (Ed25519) | reserved 0x0000 |
//   seed (32) | public key (32) | SHA-256 of all preceding 76 bytes (32)
// The public key and the checksum let a load detect corruption before the key is used.
#pragma once
#include <optional>
#include <string>

#include "crypto/bytes.h"
#include "crypto/ed25519_key.h"

namespace pave {

inline constexpr size_t kKeyFileSize = 108;

struct KeyFileResult {
    std::optional<Ed25519Key> key;
    std::string error;  // one line, set when !key
};

// Reads and checks a key file: it must be a regular file with no group/other permission
// bits (like ssh, a readable key is refused), exactly kKeyFileSize bytes, and well formed.
KeyFileResult load_key_file(const std::string& path);

// Writes key to path with mode 0600. Without force an existing file is never touched
// (O_CREAT|O_EXCL); with force the file is written to a temporary file in the same
// directory, synced, and renamed over path. Returns "" on success, else one error line.
std::string save_key_file(const std::string& path, const Ed25519Key& key, bool force);

// The file's bytes for key (contains the secret seed; wipe after use).
ByteArray<kKeyFileSize> serialize_key_file(const Ed25519Key& key);

// Parses file contents (no I/O). Checks the size before reading any byte.
KeyFileResult parse_key_file(ByteView contents);

}  // namespace pave
