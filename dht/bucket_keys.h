// DHT keys of the relay directory and of the rendezvous inboxes.
//
// The directory is split over kRelayBuckets buckets so no single DHT key (and no single
// storer) carries the whole swarm. A relay lives in the bucket given by its node key and
// announces its record on every one of the bucket's kBucketReplicas replica keys; a reader
// reads one replica, chosen at random, so the storers of any one key see only a fraction of
// the readers (relay/engine/directory_reads.h says when a client reads). The inbox of a bucket
// is shared by all of its relays, so a storer of an inbox key cannot tell which relay a client
// contacted.
#pragma once
#include <cstdint>
#include <string>

#include "crypto/bytes.h"
#include "crypto/ed25519_key.h"

namespace pave {

inline constexpr unsigned kRelayBuckets = 8;
// Replica keys per bucket: each holds the whole bucket. A relay announces on all of them (8
// permanent puts); a reader needs one.
inline constexpr unsigned kBucketReplicas = 8;
using DhtKey = ByteArray<20>;  // an OpenDHT InfoHash (SHA-1 of a string key)

// SHA-1 of the string, as OpenDHT's InfoHash::get(string) computes it.
DhtKey dht_key_of(const std::string& name);
unsigned relay_bucket_of(const Ed25519Public& node_pub);
// SHA-1("pave/v1/relays/<bucket>/<replica>").
DhtKey relay_directory_key(unsigned bucket, unsigned replica);
DhtKey inbox_key(unsigned bucket, uint32_t period_secs, uint64_t period);

}  // namespace pave
