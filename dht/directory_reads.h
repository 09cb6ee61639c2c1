// When, and at which keys, a client reads the relay directory (I/O-free: fed the time; the
// choice of replica and the background schedule come from crypto/random).
//
// A storer next to a directory key learns the address of everyone who reads that key, and
// when. A client therefore never keeps a listen open on directory keys: it reads with short
// gets, each at one replica key of the bucket (dht/bucket_keys.h), and only
//   - the buckets it needs now: every bucket while it knows no relay it may use, or the buckets
//     of its guards (dht/guard_set.h) when an attempt begins (their records name the inbox keys
//     of the current period), each bucket at most once per min_reread;
//   - now and then in the background: one random bucket at one random replica, at exponential
//     random intervals of mean refresh_mean (new relays become known, and age, without a
//     schedule a storer could link across keys).
// Which replica: one per bucket and network, fixed for a client by a random seed it keeps in its
// state dir (replica = SHA-256(label, seed, network, bucket) mod R, network = the /24 or /48 of
// its public address, set_network). Storers next to one key thus see about 1/R of the clients
// that read its bucket, instead of all of them; a client whose replica's storers are hostile
// stays exposed to them (as with guards, the exposure is decided once per network), but a client
// that drew a fresh replica for every read would meet the storers of every replica. The network
// is in the hash so that the vector of replicas a client reads (R^8 values) is no pseudonym
// that follows it from network to network: on a new network it is drawn afresh, and it repeats
// only where the address already names the client. Until the public address is known (the
// first reads of a run) each read takes a fresh random replica. With a fresh seed per run (no
// state dir) the choice is fresh per run.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "dht/bucket_keys.h"

namespace pave {

class DirectoryReads {
public:
    using Clock = std::chrono::steady_clock;
    struct Params {
        std::chrono::seconds refresh_mean{900};
        std::chrono::seconds min_reread{60};  // a bucket wanted again sooner is not read again
    };
    struct Read {
        unsigned bucket = 0, replica = 0;
        DhtKey key{};
    };

    using Seed = ByteArray<16>;
    // seed: the client's replica seed (random when not given).
    DirectoryReads() : DirectoryReads(Params{}) {}
    explicit DirectoryReads(Params p, std::optional<Seed> seed = std::nullopt);
    const Seed& seed() const { return seed_; }
    // The network the client's public address is in (its /24 or /48); empty: not known yet.
    void set_network(ByteView network) { network_.assign(network.begin(), network.end()); }
    // The replica this client reads `bucket` at on its current network (random per call while
    // no network is set).
    unsigned replica_of(unsigned bucket) const;

    // These buckets should be read (at the next take_due), unless read within `min_reread`
    // (std::nullopt: Params::min_reread).
    void want(const std::vector<unsigned>& buckets, Clock::time_point now,
              std::optional<std::chrono::seconds> min_reread = std::nullopt);
    void want_all(Clock::time_point now, std::optional<std::chrono::seconds> min_reread = std::nullopt);
    // The reads to make now: the wanted buckets, and the background read when it is due.
    std::vector<Read> take_due(Clock::time_point now);
    // When take_due may have something new (the background read; wanted buckets are due at once).
    Clock::time_point next_deadline() const;

    uint64_t reads() const { return reads_; }
    const Params& params() const { return p_; }

private:
    Read make(unsigned bucket, Clock::time_point now);
    void schedule_background(Clock::time_point now);

    Params p_;
    Bytes network_;
    Seed seed_{};
    std::set<unsigned> wanted_;
    std::map<unsigned, Clock::time_point> last_read_;
    std::optional<Clock::time_point> background_at_;
    uint64_t reads_ = 0;
};

}  // namespace pave
