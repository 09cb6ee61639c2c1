// DHT keys of the relay directory and of the rendezvous inboxes.
//
// The directory is split over kRelayBuckets keys so no single DHT key (and no single
// storer) carries the whole swarm. A relay lives in the bucket given by its node key; the
// inbox of a bucket is shared by all of its relays, so a storer of an inbox key cannot tell
// which relay a client contacted.
#pragma once
#include <cstdint>
#include <string>

#include "crypto/bytes.h"
#include "crypto/ed25519_key.h"

namespace pave {

inline constexpr unsigned kRelayBuckets = 8;
using DhtKey = ByteArray<20>;  // an OpenDHT InfoHash (SHA-1 of a string key)

// SHA-1 of the string, as OpenDHT's InfoHash::get(string) computes it.
DhtKey dht_key_of(const std::string& name);
unsigned relay_bucket_of(const Ed25519Public& node_pub);
DhtKey relay_bucket_key(unsigned bucket);
DhtKey inbox_key(unsigned bucket, uint32_t period_secs, uint64_t period);

}  // namespace pave
