#include "node/relay_service.h"

#include <algorithm>

#include "dht/bucket_keys.h"
#include "dht/presence_record.h"
#include "node/log.h"

namespace pave {

RelayService::RelayService(DhtNode& dht, const Ed25519Key& key, uint32_t presence_ttl_s, uint32_t capacity)
    : dht_(dht),
      key_(key),
      ttl_s_(std::max<uint32_t>(presence_ttl_s, 3)),
      period_secs_(std::max<uint32_t>(presence_ttl_s, 10)),
      capacity_(capacity),
      bucket_(relay_bucket_of(key.public_key())) {}

const X25519Key* RelayService::inbox_key(uint64_t period) const {
    auto it = inbox_keys_.find(period);
    return it == inbox_keys_.end() ? nullptr : &it->second;
}

void RelayService::rotate(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    for (uint64_t p : {cur - 1, cur, cur + 1})
        if (!inbox_keys_.count(p)) inbox_keys_.emplace(p, X25519Key::generate());
    // Erase keys of periods that are over (their private halves are zeroed on destruction).
    for (auto it = inbox_keys_.begin(); it != inbox_keys_.end();)
        it = (it->first + 1 < cur || it->first > cur + 1) ? inbox_keys_.erase(it) : std::next(it);
}

void RelayService::tick(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    if (cur != published_period_) {
        rotate(now_s);
        publish(now_s);
        return;
    }
    // Re-publish well before the record expires: three chances per TTL.
    if (now_s >= last_publish_ + std::max<uint32_t>(ttl_s_ / 3, 1)) publish(now_s);
}

void RelayService::publish(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    PresenceRecord r;
    r.inbox_pub = inbox_keys_.at(cur).pub;
    r.period_secs = period_secs_;
    r.period = cur;
    r.capacity = capacity_;
    r.expires = now_s + ttl_s_;
    Bytes value = encode_presence(r, key_);
    dht_.put(relay_bucket_key(bucket_), std::move(value));
    last_publish_ = now_s;
    published_period_ = cur;
    ++publications_;
    log::debug("relay", "presence published in bucket {} (period {}, expires in {} s)", bucket_, cur, ttl_s_);
}

}  // namespace pave
