#include "dht/bucket_keys.h"

#include <nettle/sha1.h>
#include <nettle/sha2.h>

namespace pave {

DhtKey dht_key_of(const std::string& name) {
    sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, name.size(), reinterpret_cast<const uint8_t*>(name.data()));
    DhtKey out;
    sha1_digest(&ctx, out.size(), out.data());
    return out;
}

unsigned relay_bucket_of(const Ed25519Public& node_pub) {
    static const char label[] = "pave/v1/bucket";
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, sizeof label - 1, reinterpret_cast<const uint8_t*>(label));
    sha256_update(&ctx, node_pub.size(), node_pub.data());
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    return d[0] % kRelayBuckets;
}

DhtKey relay_directory_key(unsigned bucket, unsigned replica) {
    return dht_key_of("pave/v1/relays/" + std::to_string(bucket) + "/" + std::to_string(replica));
}

DhtKey inbox_key(unsigned bucket, uint32_t period_secs, uint64_t period) {
    return dht_key_of("pave/v1/inbox/" + std::to_string(bucket) + "/" + std::to_string(period_secs) + "/" +
                      std::to_string(period));
}

}  // namespace pave
