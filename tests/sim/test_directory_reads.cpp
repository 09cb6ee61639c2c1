// What a DHT storer next to one directory key learns about who reads the directory: the
// distinct client addresses that read that key over one simulated hour, with clients that
// listen on fixed keys (how clients read before) and with short gets at random replica keys.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

struct Exposure {
    size_t clients = 0;
    size_t connected = 0;
    size_t worst_key = 0;    // the most readers any one key of bucket 0 had
    double mean_key = 0;     // mean over the keys of bucket 0 that were read
    uint64_t reads = 0;      // gets by all clients
};

Exposure run_hour(uint64_t seed, bool listen_directory, size_t n_clients) {
    Swarm s(seed, DhtParams{50ms, 50ms, 100ms, 0.0, 0.0});
    s.add_vpn();
    for (int i = 0; i < 8; ++i) s.add_relay();
    ClientEngineConfig cfg;
    cfg.listen_directory = listen_directory;
    for (size_t i = 0; i < n_clients; ++i) s.add_client(cfg);
    // Clients come on line over the first ten minutes; WireGuard keeps each tunnel busy (a
    // handshake, then a keepalive every 10 s, echoed by the VPN).
    auto wireguard = [&] {
        for (auto& c : s.clients) {
            if (c->step() != Step::connected) continue;
            if (!c->wireguard().has_keypair()) c->wireguard().send_initiation();
            else c->wireguard().send_data(0);
        }
    };
    const auto spacing = std::chrono::milliseconds(600'000 / n_clients);
    for (size_t i = 0; i < n_clients; ++i) {
        s.run_for(spacing);
        s.clients[i]->start();
        if (i % std::max<size_t>(1, size_t(10s / spacing)) == 0) wireguard();
    }
    for (int i = 0; i < 50 * 6; ++i) {
        s.run_for(10s);
        wireguard();
    }
    Exposure e;
    e.clients = n_clients;
    for (auto& c : s.clients) {
        if (c->engine().ever_connected()) ++e.connected;
        e.reads += c->engine().counters().directory_reads;
    }
    size_t read_keys = 0, total = 0;
    for (unsigned r = 0; r < kBucketReplicas; ++r) {
        size_t n = s.dht.readers(relay_directory_key(0, r)).size();
        e.worst_key = std::max(e.worst_key, n);
        if (n) ++read_keys, total += n;
    }
    e.mean_key = read_keys ? double(total) / double(read_keys) : 0.0;
    return e;
}

}  // namespace

TEST_CASE("directory reads: a storer next to one bucket key sees far fewer clients than with listens") {
    const size_t n = 40;
    Exposure before = run_hour(71, true, n);
    Exposure after = run_hour(71, false, n);
    MESSAGE("one simulated hour, " << n << " clients, 8 relays; distinct client addresses seen by the storers of one "
            "key of bucket 0: listening on fixed keys " << before.worst_key << " of " << n
            << "; gets at each client's replica key " << after.worst_key << " at the most-read replica key (mean "
            << after.mean_key << " over the bucket's " << kBucketReplicas << " keys; " << after.reads
            << " gets by all clients, " << double(after.reads) / double(n) << " per client)");
    CHECK(before.connected == n);
    CHECK(after.connected == n);
    CHECK(before.worst_key == n);  // every client listens on the key for the whole hour
    CHECK(after.worst_key * 3 <= before.worst_key);
    CHECK(after.reads > 0);
}
