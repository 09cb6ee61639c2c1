// Keeps a `pave node`'s Directory filled from the DHT (for `relays` and the shell): listens on
// one replica key of every relay bucket, chosen at random, and judges each value on the loop
// thread (never on OpenDHT's thread). A relay's address is public anyway (clients reach it);
// the client role (`pave connect`) never listens on directory keys: it reads them with short
// gets (dht/directory_reads.h).
#pragma once
#include <optional>

#include "dht/opendht/dht_node.h"
#include "dht/directory.h"

namespace pave {

class LoopQueue;

class DirectoryFeed {
public:
    DirectoryFeed(DhtNode& dht, LoopQueue& queue, std::optional<Ed25519Public> self);
    // Starts the listens: once the DHT is ready (DhtNode::ready), so that they do not start at
    // the bootstrap node nor keep OpenDHT from looking up its own id.
    void start();
    bool started() const { return started_; }
    // Loop thread, about once a second: drops expired relays.
    void tick(uint64_t now_s);
    Directory& directory() { return directory_; }
    const Directory& directory() const { return directory_; }
    uint64_t values_seen() const { return values_seen_; }
    // CPU time the loop thread spent judging values (parse, checks, signatures).
    uint64_t judge_cpu_ns() const { return judge_cpu_ns_; }

private:
    DhtNode& dht_;
    LoopQueue& queue_;
    Directory directory_;
    bool started_ = false;
    uint64_t values_seen_ = 0;
    uint64_t judge_cpu_ns_ = 0;
};

uint64_t unix_now();

}  // namespace pave
