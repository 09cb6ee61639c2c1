// Test tool: writes hostile values into a private PAVE swarm's relay directory.
//
//   pave-dht-tool --network-id N --bootstrap HOST:PORT forge badsig|wrongkey|expired|farfuture
//       puts one forged presence record on the bucket key its claimed node key maps to and
//       prints the node id it claims (which no honest listing may show).
//   pave-dht-tool --network-id N --bootstrap HOST:PORT flood-key KEYHEX COUNT SIZE
//       puts COUNT random values of SIZE bytes at one key (e.g. junk rendezvous blobs on an inbox key).
//   pave-dht-tool --network-id N --bootstrap HOST:PORT flood COUNT
//       puts COUNT junk values spread over every bucket key: garbage bytes, records with forged
//       signatures, validly signed but expired records, and OpenDHT putEncrypted values.
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
#include "dht/presence_record.h"

using namespace pave;

namespace {

uint64_t now_s() {
    return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

Bytes record_for(const Ed25519Key& signer, uint64_t expires) {
    PresenceRecord r;
    random_bytes(r.inbox_pub);
    r.period_secs = 30;
    r.period = now_s() / 30;
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
    dht::Value val(v.data(), v.size());
    val.id = random_u64();
    p.add();
    r.put(dht::InfoHash(key.data(), key.size()), std::move(val), [&p](bool ok) { p.done(ok); });
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
        put_plain(runner, relay_bucket_key(relay_bucket_of(claimed.public_key())), v, pending);
        std::cout << node_id(claimed.public_key()) << std::endl;
    } else if (cmd == "flood") {
        size_t count = std::stoul(arg);
        auto pk = runner.getPublicKey();
        for (size_t n = 0; n < count; ++n) {
            DhtKey key = relay_bucket_key(unsigned(n % kRelayBuckets));
            switch (n % 4) {
                case 0: {  // garbage of random size
                    Bytes v(1 + random_below(400));
                    random_bytes(v);
                    put_plain(runner, key, v, pending);
                    break;
                }
                case 1: {  // well-formed record, forged signature, right bucket
                    Ed25519Key k = Ed25519Key::generate();
                    Bytes v = record_for(k, now_s() + 300);
                    v[v.size() - 5] ^= 0x40;
                    put_plain(runner, relay_bucket_key(relay_bucket_of(k.public_key())), v, pending);
                    break;
                }
                case 2: {  // validly signed, expired
                    Ed25519Key k = Ed25519Key::generate();
                    put_plain(runner, relay_bucket_key(relay_bucket_of(k.public_key())), record_for(k, now_s() - 60),
                              pending);
                    break;
                }
                case 3: {  // OpenDHT's own encrypted form (RSA), which PAVE never decrypts
                    Bytes v(64);
                    random_bytes(v);
                    pending.add();
                    runner.putEncrypted(dht::InfoHash(key.data(), key.size()), pk, dht::Value(v.data(), v.size()),
                                        [&pending](bool ok) { pending.done(ok); });
                    break;
                }
            }
        }
        std::cout << "flooded " << count << std::endl;
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
    } else {
        std::cerr << "unknown command " << cmd << "\n";
        return 2;
    }
    pending.wait(std::chrono::seconds(30));
    std::cerr << "puts confirmed: " << pending.ok << "\n";
    runner.join();
    return 0;
}
