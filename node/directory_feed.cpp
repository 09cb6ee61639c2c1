#include "node/directory_feed.h"

#include <time.h>

#include <chrono>

#include "crypto/random.h"
#include "node/log.h"
#include "node/loop_queue.h"

namespace pave {

namespace {
uint64_t thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}
}  // namespace

uint64_t unix_now() {
    return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

DirectoryFeed::DirectoryFeed(DhtNode& dht, LoopQueue& queue, std::optional<Ed25519Public> self)
    : dht_(dht), queue_(queue), directory_(self) {}

void DirectoryFeed::start() {
    if (started_) return;
    started_ = true;
    // Every replica key of a bucket holds the whole bucket: one, chosen at random, is enough.
    for (unsigned b = 0; b < kRelayBuckets; ++b) {
        unsigned replica = unsigned(random_u64() % kBucketReplicas);
        dht_.listen(relay_directory_key(b, replica), [this, b](std::vector<Bytes> values, bool expired) {
            if (expired) return;  // expiry is judged by the signed time inside each record
            queue_.post([this, b, values = std::move(values)] {
                uint64_t now = unix_now();
                uint64_t t0 = thread_cpu_ns();
                for (const auto& v : values) {
                    ++values_seen_;
                    auto verdict = directory_.ingest(v, b, now);
                    if (verdict == Directory::Verdict::accepted)
                        log::debug("directory", "relay record accepted in bucket {}", b);
                }
                judge_cpu_ns_ += thread_cpu_ns() - t0;
            });
        });
    }
}

void DirectoryFeed::tick(uint64_t now_s) {
    if (size_t n = directory_.expire(now_s)) log::debug("directory", "{} relay(s) expired", n);
}

}  // namespace pave
