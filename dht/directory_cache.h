// The state file of the relays a client last saw (`directory` in the state dir), so that a
// restart can send its first offers before any DHT read returns; the DHT reads refresh it as
// usual. It holds the relays' own signed presence records, exactly as read from the DHT: at
// start each goes through Directory::ingest like a value from the DHT (signature, expiry, the
// period of its inbox key, field ranges), so an expired or tampered entry is dropped there and
// the file adds no trust of its own. Records live one or two presence periods, so the cache
// helps a restart within that time (a crash, `wg-quick down; up`, a reboot), not one a day
// later.
//
// Text, one record per line:
//   pave-directory 1
//   record <bucket 0..kRelayBuckets-1> <presence record hex, at most kPresenceMaxSize bytes>
// Bounded: at most kMaxDirectoryCacheBytes, kMaxCachedRecords records, lines of at most
// kMaxDirectoryCacheLine bytes (a relay may appear twice: ingest keeps its newest record).
// Anything else refuses the whole file (the client starts from the DHT alone and says why).
//
// What it stores that the DHT does not already show: nothing. The records are public (every
// reader of a bucket key gets them); the file tells someone who reads the client's disk which
// relays it knew recently, as the guard file already does.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "dht/presence_record.h"

namespace pave {

inline constexpr size_t kMaxDirectoryCacheBytes = 64 * 1024;
inline constexpr size_t kMaxCachedRecords = 32;
inline constexpr size_t kMaxDirectoryCacheLine = 16 + 2 * kPresenceMaxSize;

struct CachedRecord {
    unsigned bucket = 0;
    Bytes value;  // a presence record as stored in the DHT (not verified here)
};

// At most kMaxCachedRecords of `records` (the first ones), skipping any that could not be
// read back (a bucket out of range, an empty or oversized value).
std::string encode_directory_cache(const std::vector<CachedRecord>& records);
// std::nullopt with `why` set when the text is not a valid cache file.
std::optional<std::vector<CachedRecord>> decode_directory_cache(std::string_view text, std::string* why = nullptr);

}  // namespace pave
