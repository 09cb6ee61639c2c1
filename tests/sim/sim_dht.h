// The simulated DHT: a map from key to values with the behaviour the engines rely on from
// OpenDHT's put and listen, and configurable delay and loss:
//  - put(key, value): the value is stored after the put delay (or lost, with put_loss), then
//    reaches every listener of the key after the delivery delay (each value's delivery to each
//    listener may be lost, with delivery_loss);
//  - listen(key): the values already stored reach the new listener after the delivery delay,
//    new ones later; cancel() stops deliveries, including those already on their way;
//  - values expire value_ttl after they were stored; listeners then get them again with
//    expired = true (as OpenDHT's listen callback does);
//  - announce(key, value): a permanent put: stored after the put delay (done(true)), or lost
//    with put_loss (done(false)); it does not expire until withdrawn, then value_ttl later (the
//    storers keep the last copy they were sent); nothing is stored while the DHT is down
//    (done(false));
//  - get(key): the values stored now reach the reader after the delivery delay, then its done.
// Every listen and get names its reader (an address): readers(key) is what the storers of that
// key learn about who reads it.
// Delays are drawn in [delay, delay + jitter] from the simulator's seeded randomness.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "dht/bucket_keys.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/sim_random.h"

namespace pave::sim {

struct DhtParams {
    std::chrono::milliseconds put_delay{50};
    std::chrono::milliseconds delivery_delay{50};
    std::chrono::milliseconds jitter{0};
    double put_loss = 0.0;
    double delivery_loss = 0.0;
    std::chrono::milliseconds value_ttl{10 * 60 * 1000};  // OpenDHT's default value lifetime
};

class SimDht {
public:
    using Token = uint64_t;
    using Listener = std::function<void(Token token, const DhtKey& key, const std::vector<Bytes>& values, bool expired)>;

    SimDht(EventQueue& events, SimRandom& rng, DhtParams params = {}) : events_(events), rng_(rng), params_(params) {}
    DhtParams& params() { return params_; }

    // reader, who: the requester's address, as a storer sees it (the engines never do).
    void put(const DhtKey& key, Bytes value, const std::string& who = {});
    Token listen(const DhtKey& key, Listener fn, const std::string& reader = {});
    void cancel(Token token);
    uint64_t announce(const DhtKey& key, Bytes value, std::function<void(bool ok)> done, const std::string& who = {});
    void withdraw(const DhtKey& key, uint64_t id);
    // The values reach `fn` (with the returned token, expired = false), then `done` is called.
    Token get(const DhtKey& key, const std::string& reader, Listener fn, std::function<void(Token)> done);

    // Whether nodes can reach the DHT (false: announcements fail, as before bootstrap).
    bool up = true;
    // The distinct readers (listen or get) of `key` so far.
    const std::set<std::string>& readers(const DhtKey& key) const;
    uint64_t reads() const { return reads_; }

    // Stored, unexpired values at `key` now.
    size_t values_at(const DhtKey& key) const;
    size_t listeners() const { return listeners_.size(); }

    // Sees every put as it is made (before loss): lets a test capture and replay a value.
    std::function<void(const DhtKey& key, const Bytes& value)> on_put;
    // Sees every request whose requester is named (put, announce, listen, get), as every storer
    // of the key would, with the requester's address.
    enum class Op { put, announce, listen, get };
    std::function<void(Op op, const DhtKey& key, const std::string& who)> on_request;

    uint64_t puts() const { return puts_; }
    uint64_t puts_lost() const { return puts_lost_; }
    uint64_t deliveries() const { return deliveries_; }
    uint64_t deliveries_lost() const { return deliveries_lost_; }
    uint64_t expired() const { return expired_; }

private:
    struct Stored {
        uint64_t id;
        Bytes value;
    };
    struct Listening {
        DhtKey key;
        Listener fn;
    };
    Duration draw(std::chrono::milliseconds base);
    void store(const DhtKey& key, Bytes value, std::optional<uint64_t> announced = std::nullopt);
    void deliver(Token token, const DhtKey& key, std::vector<Bytes> values, bool expired);
    void expire(const DhtKey& key, uint64_t id);

    EventQueue& events_;
    SimRandom& rng_;
    DhtParams params_;
    std::map<DhtKey, std::vector<Stored>> values_;
    std::map<Token, Listening> listeners_;
    Token next_token_ = 1;
    uint64_t next_value_id_ = 1;
    std::map<DhtKey, std::set<std::string>> readers_;
    std::set<uint64_t> announced_;  // ids of announced values not withdrawn
    uint64_t reads_ = 0;
    uint64_t puts_ = 0, puts_lost_ = 0, deliveries_ = 0, deliveries_lost_ = 0, expired_ = 0;
};

}  // namespace pave::sim
