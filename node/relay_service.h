// The relay role's presence: a signed record in the directory, re-published before it
// expires, and the inbox keys it names, rotated every period. The previous, current and next
// periods' inbox keys are held; older ones are erased, so a later leak exposes no past client.
#pragma once
#include <cstdint>
#include <map>

#include "crypto/ed25519_key.h"
#include "crypto/x25519.h"
#include "dht/dht_node.h"

namespace pave {

class RelayService {
public:
    RelayService(DhtNode& dht, const Ed25519Key& key, uint32_t presence_ttl_s, uint32_t capacity);
    // Loop thread, about once a second.
    void tick(uint64_t now_s);
    uint64_t period_of(uint64_t now_s) const { return now_s / period_secs_; }
    uint32_t period_secs() const { return period_secs_; }
    unsigned bucket() const { return bucket_; }
    uint64_t publications() const { return publications_; }
    // Inbox key for a period if still held (previous, current or next period).
    const X25519Key* inbox_key(uint64_t period) const;

private:
    void rotate(uint64_t now_s);
    void publish(uint64_t now_s);

    DhtNode& dht_;
    const Ed25519Key& key_;
    uint32_t ttl_s_;
    uint32_t period_secs_;
    uint32_t capacity_;
    unsigned bucket_;
    std::map<uint64_t, X25519Key> inbox_keys_;
    uint64_t last_publish_ = 0;
    uint64_t published_period_ = UINT64_MAX;
    uint64_t publications_ = 0;
};

}  // namespace pave
