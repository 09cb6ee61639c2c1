// DHT keys of the rendezvous inboxes: kInboxShards shard keys per period (and period length),
// shared by every relay of the swarm. A client puts each offer on one shard chosen at random;
// every relay listens on every shard of the previous, current and next periods and
// trial-decrypts every offer (an X25519 and a failed AEAD open, tens of µs, for offers that are
// not its own). So a storer of an inbox key learns that the putter made an offer at that time,
// and nothing about which relay it is for: all relays listen on all shards.
//
// Scaling: every relay pays one trial decryption per offer of the whole swarm, within its
// decryption budget (RelayEngineConfig::offers_per_second, 200/s by default). Offers beyond
// the budget wait in a bounded queue and are then dropped, so the swarm as a whole handles
// about that many offers per second, whatever its size (README: "Rendezvous").
#pragma once
#include <cstdint>

#include "dht/bucket_keys.h"

namespace pave {

inline constexpr unsigned kInboxShards = 8;

// SHA-1("pave/v1/inbox-shard/" + shard + "/" + period_secs + "/" + period), as OpenDHT's
// InfoHash::get(string). shard < kInboxShards.
DhtKey inbox_shard_key(unsigned shard, uint32_t period_secs, uint64_t period);

}  // namespace pave
