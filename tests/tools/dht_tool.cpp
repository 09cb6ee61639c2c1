// Test tool: writes hostile values into a private PAVE swarm's relay directory.
//
//   pave-dht-tool --network-id N --bootstrap HOST:PORT forge badsig|wrongkey|expired|farfuture
//       puts one forged presence record on the replica keys of the bucket its claimed node key maps to and
//       prints the node id it claims (which no honest listing may show).
//   pave-dht-tool --network-id N --bootstrap HOST:PORT fake-relays COUNT
//       puts COUNT validly signed presence records of fresh keys (free Sybil relays that never
//       answer), each on the replica keys of its bucket, living 10 minutes.
//   pave-dht-tool --network-id N --bootstrap HOST:PORT flood-key KEYHEX COUNT SIZE
//       puts COUNT random values of SIZE bytes at one key (e.g. junk rendezvous blobs on an inbox key).
//   pave-dht-tool --network-id N --bootstrap HOST:PORT flood COUNT
//       puts COUNT junk values spread over every bucket (each on all its replica keys): garbage bytes, records with forged
//       signatures, validly signed but expired records, and OpenDHT putEncrypted values.
//   pave-dht-tool --network-id N --bootstrap HOST:PORT offers RELAY_ID RATE SECONDS VPN CAND...
//       reads the presence record of the relay whose node id starts with RELAY_ID and puts
//       valid rendezvous offers sealed to its inbox key, on the inbox shards in turn, RATE per second for SECONDS, each with
//       a fresh session id and key share, the VPN endpoint VPN and the candidates CAND (up to
//       8, "a.b.c.d:port"; e.g. addresses that never answer). Anyone can do this.
//
// Only for tests: it talks to the bootstrap it is given (loopback or a test namespace).
#include <opendht.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "crypto/hex.h"
#include "crypto/random.h"
#include "dht/bucket_keys.h"
#include "dht/inbox_keys.h"
#include "crypto/x25519.h"
#include "dht/presence_record.h"
#include "dht/rendezvous_blob.h"

using namespace pave;

namespace {

uint64_t now_s() {
    return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

Bytes record_for(const Ed25519Key& signer, uint64_t expires, uint32_t period_secs = 600) {
    PresenceRecord r;
    r.inbox_pub = X25519Key::generate().pub;
    r.period_secs = period_secs;
    r.period = (expires - 1) / period_secs;  // the period the expiry falls in: fields consistent
    r.capacity = 8;
    r.expires = expires;
    return encode_presence(r, signer);
}

// Replaces the first occurrence of `from` in v by `to` (same length).
void patch(Bytes& v, ByteView from, ByteView to) {
    auto it = std::search(v.begin(), v.end(), from.begin(), from.end());
    if (it != v.end()) std::copy(to.begin(), to.end(), it);
}

struct Pending {
    std::mutex m;
    std::condition_variable cv;
    size_t outstanding = 0, ok = 0;
    void add() {
        std::lock_guard l(m);
        ++outstanding;
    }
    void done(bool success) {
        std::lock_guard l(m);
        --outstanding;
        ok += success;
        cv.notify_all();
    }
    void wait(std::chrono::seconds limit) {
        std::unique_lock l(m);
        cv.wait_for(l, limit, [&] { return outstanding == 0; });
    }
};

void put_plain(dht::DhtRunner& r, const DhtKey& key, const Bytes& v, Pending& p) {
    // At most 150 puts a second: each put is a search and a few requests to every storer, and
    // PAVE nodes answer at most 512 requests a second from one peer (dht/opendht/dht_node.h).
    static auto next = std::chrono::steady_clock::now();
    std::this_thread::sleep_until(next);
    next = std::max(next, std::chrono::steady_clock::now() - std::chrono::seconds(1)) + std::chrono::microseconds(6667);
    dht::Value val(v.data(), v.size());
    val.id = random_u64();
    p.add();
    r.put(dht::InfoHash(key.data(), key.size()), std::move(val), [&p](bool ok) { p.done(ok); });
}

// A directory value goes on every replica key of its bucket: a reader reads (or a node listens
// on) one of them, chosen at random.
void put_bucket(dht::DhtRunner& r, unsigned bucket, const Bytes& v, Pending& p) {
    for (unsigned i = 0; i < kBucketReplicas; ++i) put_plain(r, relay_directory_key(bucket, i), v, p);
}

uint64_t now_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

// The verified, unexpired presence record of the relay whose node id starts with `prefix`.
std::optional<PresenceRecord> find_relay(dht::DhtRunner& r, const std::string& prefix) {
    std::optional<PresenceRecord> best;
    for (unsigned b = 0; b < kRelayBuckets; ++b) {
        DhtKey key = relay_directory_key(b, unsigned(random_below(kBucketReplicas)));
        auto values = r.get(dht::InfoHash(key.data(), key.size())).get();
        for (const auto& v : values) {
            auto p = decode_and_verify_presence(ByteView(v->data.data(), v->data.size()));
            if (!p.record || p.record->expires < now_s()) continue;
            if (node_id(p.record->node_pub).rfind(prefix, 0) != 0) continue;
            if (!best || p.record->period > best->period) best = p.record;
        }
    }
    return best;
}

int send_offers(dht::DhtRunner& r, char** args, int n, Pending& pending) {
    if (n < 5) {
        std::cerr << "offers RELAY_ID RATE SECONDS VPN CAND...\n";
        return 2;
    }
    std::string prefix = args[0];
    double rate = std::stod(args[1]), seconds = std::stod(args[2]);
    auto vpn = Endpoint::parse(args[3]);
    std::vector<Endpoint> cands;
    for (int k = 4; k < n; ++k)
        if (auto c = Endpoint::parse(args[k])) cands.push_back(*c);
    if (!vpn || cands.empty() || cands.size() > kRendezvousMaxCandidates || !(rate > 0)) {
        std::cerr << "bad VPN endpoint, candidates or rate\n";
        return 2;
    }
    std::optional<PresenceRecord> rec;
    auto start = std::chrono::steady_clock::now(), last_lookup = start;
    for (int t = 0; t < 50 && !(rec = find_relay(r, prefix)); ++t) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!rec) {
        std::cerr << "relay " << prefix << " not in the directory\n";
        return 1;
    }
    size_t sent = 0;
    start = last_lookup = std::chrono::steady_clock::now();  // SECONDS of offers, not of lookups
    auto gap = std::chrono::duration<double>(1.0 / rate);
    while (std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds)) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_lookup > std::chrono::seconds(5)) {  // follow the inbox key rotation
            if (auto fresh = find_relay(r, prefix)) rec = fresh;
            last_lookup = now;
        }
        Offer o;
        random_bytes(o.session_id);
        o.client_share = X25519Key::generate().pub;
        o.candidates = cands;
        o.vpn = *vpn;
        o.timestamp_ms = rendezvous_timestamp_now(now_ms());
        auto sealed = seal_offer(o, rec->inbox_pub, rec->node_pub, rec->period);
        if (sealed) {
            put_plain(r, inbox_shard_key(unsigned(sent % kInboxShards), rec->period_secs, rec->period), sealed->value,
                      pending);
            ++sent;
        }
        std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap * double(sent)));
    }
    std::cout << "offers " << sent << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t netid = 0;
    std::string bootstrap;
    int i = 1;
    for (; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--network-id"))
            netid = uint32_t(std::stoul(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--bootstrap"))
            bootstrap = argv[i + 1];
        else
            break;
    }
    if (i + 1 >= argc || bootstrap.empty() || netid == 0) {
        std::cerr << "usage: pave-dht-tool --network-id N --bootstrap HOST:PORT forge KIND | flood COUNT\n";
        return 2;
    }
    std::string cmd = argv[i], arg = argv[i + 1];

    dht::DhtRunner runner;
    dht::DhtRunner::Config cfg;
    cfg.dht_config.node_config.network = netid;
    cfg.threaded = true;
    cfg.bind4.setFamily(AF_INET);
    cfg.bind4.setAddress("127.0.0.1");
    auto colon = bootstrap.rfind(':');
    if (bootstrap.substr(0, colon) != "127.0.0.1") cfg.bind4 = dht::SockAddr();
    if (cmd == "flood") cfg.dht_config.id = dht::crypto::generateIdentity("pave-flood", {}, 2048);
    runner.run(cfg, {});
    runner.bootstrap(bootstrap.substr(0, colon), bootstrap.substr(colon + 1));
    for (int t = 0; t < 100 && runner.getNodesStats(AF_INET).good_nodes == 0; ++t)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));

    Pending pending;
    if (cmd == "forge") {
        Ed25519Key claimed = Ed25519Key::generate();
        Bytes v;
        if (arg == "badsig") {
            v = record_for(claimed, now_s() + 300);
            v[v.size() - 1] ^= 0x01;  // last signature byte
        } else if (arg == "wrongkey") {
            Ed25519Key signer = Ed25519Key::generate();
            v = record_for(signer, now_s() + 300);
            patch(v, signer.public_key(), claimed.public_key());  // claims another node's key
        } else if (arg == "expired") {
            v = record_for(claimed, now_s() - 5);
        } else if (arg == "farfuture") {
            v = record_for(claimed, now_s() + 30 * 86400);
        } else {
            std::cerr << "unknown forge kind " << arg << "\n";
            return 2;
        }
        put_bucket(runner, relay_bucket_of(claimed.public_key()), v, pending);
        std::cout << node_id(claimed.public_key()) << std::endl;
    } else if (cmd == "flood") {
        size_t count = std::stoul(arg);
        auto pk = runner.getPublicKey();
        for (size_t n = 0; n < count; ++n) {
            const unsigned bucket = unsigned(n % kRelayBuckets);
            switch (n % 4) {
                case 0: {  // garbage of random size
                    Bytes v(1 + random_below(400));
                    random_bytes(v);
                    put_bucket(runner, bucket, v, pending);
                    break;
                }
                case 1: {  // well-formed record, forged signature, right bucket
                    Ed25519Key k = Ed25519Key::generate();
                    Bytes v = record_for(k, now_s() + 300);
                    v[v.size() - 5] ^= 0x40;
                    put_bucket(runner, relay_bucket_of(k.public_key()), v, pending);
                    break;
                }
                case 2: {  // validly signed, expired
                    Ed25519Key k = Ed25519Key::generate();
                    put_bucket(runner, relay_bucket_of(k.public_key()), record_for(k, now_s() - 60), pending);
                    break;
                }
                case 3: {  // OpenDHT's own encrypted form (RSA), which PAVE never decrypts
                    Bytes v(64);
                    random_bytes(v);
                    for (unsigned i = 0; i < kBucketReplicas; ++i) {
                        DhtKey key = relay_directory_key(bucket, i);
                        pending.add();
                        runner.putEncrypted(dht::InfoHash(key.data(), key.size()), pk, dht::Value(v.data(), v.size()),
                                            [&pending](bool ok) { pending.done(ok); });
                    }
                    break;
                }
            }
        }
        std::cout << "flooded " << count << std::endl;
    } else if (cmd == "fake-relays") {
        size_t count = std::stoul(arg);
        for (size_t n = 0; n < count; ++n) {
            Ed25519Key k = Ed25519Key::generate();
            put_bucket(runner, relay_bucket_of(k.public_key()), record_for(k, now_s() + 600, 600), pending);
        }
        std::cout << "published " << count << std::endl;
    } else if (cmd == "flood-key" && i + 3 < argc) {
        auto raw = from_hex(arg);
        if (!raw || raw->size() != 20) {
            std::cerr << "KEYHEX must be 40 hex digits\n";
            return 2;
        }
        DhtKey key;
        std::copy(raw->begin(), raw->end(), key.begin());
        size_t count = std::stoul(argv[i + 2]), size = std::stoul(argv[i + 3]);
        for (size_t n = 0; n < count; ++n) {
            Bytes v(size);
            random_bytes(v);
            put_plain(runner, key, v, pending);
        }
        std::cout << "flooded " << count << std::endl;
    } else if (cmd == "offers") {
        if (int rc = send_offers(runner, argv + i + 1, argc - i - 1, pending); rc != 0) return rc;
    } else {
        std::cerr << "unknown command " << cmd << "\n";
        return 2;
    }
    pending.wait(std::chrono::seconds(30));
    std::cerr << "puts confirmed: " << pending.ok << "\n";
    runner.join();
    return 0;
}
