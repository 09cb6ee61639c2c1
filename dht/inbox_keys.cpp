#include "dht/inbox_keys.h"

#include <string>

namespace pave {

DhtKey inbox_shard_key(unsigned shard, uint32_t period_secs, uint64_t period) {
    return dht_key_of("pave/v1/inbox-shard/" + std::to_string(shard) + "/" + std::to_string(period_secs) + "/" +
                      std::to_string(period));
}

}  // namespace pave
