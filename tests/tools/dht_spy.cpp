// Test tool: an adversary's DHT nodes. Runs K OpenDHT 2.4 nodes (real DhtRunners, so they store
// and serve like any node) whose node ids are chosen right next to PAVE's keys, and writes one
// line per keyed request any of them receives, before OpenDHT handles it:
//
//     <unix ms> <source ip> <op> <key hex>      op: get, listen, put, refresh, update, find
//
//   pave-dht-spy --network-id N --bootstrap HOST:PORT --bind IP --port P0 --period-secs S
//                --log FILE [--nodes K]
//
// Targets, in this order, one node each until K are placed (node id = target with its last
// bit flipped, the closest id there is): the inbox shard keys of the current period, the
// per-bucket inbox keys (the layout before shards) of the current period, the first replica
// key of each directory bucket, the inbox shard keys of the next period, the other directory
// replica keys. Answer keys, where a PAVE version uses them, are per session and cannot be
// aimed at in advance; in a lab swarm of a few nodes, K nodes are among the closest to every
// key anyway. Node i listens on port P0 + i. Requests are decoded from OpenDHT's msgpack
// ("y": "q", "q": method, "a": {"h" | "target": 20-byte key}); replies and anything else are
// not logged. Runs until SIGTERM/SIGINT.
//
// Only for tests: it talks to the bootstrap it is given (a test namespace or loopback).
#include <opendht.h>

#include <msgpack.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/hex.h"
#include "dht/bucket_keys.h"
#include "dht/inbox_keys.h"

using namespace pave;

namespace {

std::atomic<bool> g_stop{false};

uint64_t unix_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

// One keyed request in an OpenDHT datagram, or nothing.
bool decode_request(const uint8_t* data, size_t size, std::string& op, std::string& key) {
    try {
        msgpack::object_handle oh = msgpack::unpack(reinterpret_cast<const char*>(data), size);
        const msgpack::object& o = oh.get();
        if (o.type != msgpack::type::MAP) return false;
        const msgpack::object* args = nullptr;
        bool query = false;
        for (uint32_t i = 0; i < o.via.map.size; ++i) {
            const auto& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) continue;
            const std::string k(kv.key.via.str.ptr, kv.key.via.str.size);
            if (k == "y" && kv.val.type == msgpack::type::STR)
                query = std::string(kv.val.via.str.ptr, kv.val.via.str.size) == "q";
            else if (k == "q" && kv.val.type == msgpack::type::STR)
                op.assign(kv.val.via.str.ptr, kv.val.via.str.size);
            else if (k == "a" && kv.val.type == msgpack::type::MAP)
                args = &kv.val;
        }
        if (!query || !args || op.empty()) return false;
        for (uint32_t i = 0; i < args->via.map.size; ++i) {
            const auto& kv = args->via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::BIN || kv.val.via.bin.size != 20)
                continue;
            const std::string k(kv.key.via.str.ptr, kv.key.via.str.size);
            if (k == "h" || k == "target") {
                key = to_hex(ByteView(reinterpret_cast<const uint8_t*>(kv.val.via.bin.ptr), 20));
                return true;
            }
        }
    } catch (const std::exception&) {
    }
    return false;
}

class Journal {
public:
    explicit Journal(const std::string& path) : f_(std::fopen(path.c_str(), "a")) {}
    ~Journal() {
        if (f_) std::fclose(f_);
    }
    bool ok() const { return f_ != nullptr; }
    void write(const dht::SockAddr& from, const std::string& op, const std::string& key) {
        std::lock_guard l(m_);
        std::fprintf(f_, "%llu %s %s %s\n", static_cast<unsigned long long>(unix_ms()), from.toString().c_str(),
                     op.c_str(), key.c_str());
        std::fflush(f_);
    }

private:
    std::mutex m_;
    std::FILE* f_;
};

// OpenDHT's own UDP socket, with every received datagram shown to the journal first.
class SpySocket final : public dht::net::DatagramSocket {
public:
    SpySocket(const dht::SockAddr& bind4, Journal& journal)
        : inner_(std::make_unique<dht::net::UdpSocket>(bind4, dht::SockAddr())), journal_(journal) {
        inner_->setOnReceive([this](dht::net::PacketList&& pkts) {
            for (const auto& p : pkts) {
                std::string op, key;
                if (decode_request(p.data.data(), p.data.size(), op, key)) journal_.write(p.from, op, key);
            }
            onReceived(std::move(pkts));
            return dht::net::PacketList{};
        });
    }
    int sendTo(const dht::SockAddr& dest, const uint8_t* data, size_t size, bool replied) override {
        return inner_->sendTo(dest, data, size, replied);
    }
    bool hasIPv4() const override { return inner_->hasIPv4(); }
    bool hasIPv6() const override { return false; }
    const dht::SockAddr& getBoundRef(sa_family_t family) const override { return inner_->getBoundRef(family); }
    void stop() override { inner_->stop(); }

private:
    std::unique_ptr<dht::net::UdpSocket> inner_;
    Journal& journal_;
};

dht::InfoHash next_to(const DhtKey& k) {
    dht::InfoHash h;
    std::memcpy(h.data(), k.data(), 20);
    h[19] ^= 0x01;
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t netid = 0;
    std::string bootstrap, bind_ip, log_path;
    unsigned port0 = 0, nodes = 16;
    uint32_t period_secs = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--network-id") netid = std::stoull(v);
        else if (a == "--bootstrap") bootstrap = v;
        else if (a == "--bind") bind_ip = v;
        else if (a == "--port") port0 = unsigned(std::stoul(v));
        else if (a == "--period-secs") period_secs = uint32_t(std::stoul(v));
        else if (a == "--log") log_path = v;
        else if (a == "--nodes") nodes = unsigned(std::stoul(v));
    }
    const auto colon = bootstrap.rfind(':');
    if (!netid || colon == std::string::npos || bind_ip.empty() || !port0 || !period_secs || log_path.empty() ||
        nodes == 0 || nodes > 96) {
        std::cerr << "usage: pave-dht-spy --network-id N --bootstrap HOST:PORT --bind IP --port P0 --period-secs S "
                     "--log FILE [--nodes K]\n";
        return 2;
    }
    Journal journal(log_path);
    if (!journal.ok()) {
        std::cerr << "cannot open " << log_path << "\n";
        return 1;
    }
    std::signal(SIGTERM, [](int) { g_stop = true; });
    std::signal(SIGINT, [](int) { g_stop = true; });

    const uint64_t period = unix_ms() / 1000 / period_secs;
    std::vector<DhtKey> targets;
    for (unsigned s = 0; s < kInboxShards; ++s) targets.push_back(inbox_shard_key(s, period_secs, period));
    for (unsigned b = 0; b < kRelayBuckets; ++b) targets.push_back(inbox_key(b, period_secs, period));
    for (unsigned b = 0; b < kRelayBuckets; ++b) targets.push_back(relay_directory_key(b, 0));
    for (unsigned s = 0; s < kInboxShards; ++s) targets.push_back(inbox_shard_key(s, period_secs, period + 1));
    for (unsigned b = 0; b < kRelayBuckets; ++b)
        for (unsigned r = 1; r < kBucketReplicas; ++r) targets.push_back(relay_directory_key(b, r));

    std::vector<std::unique_ptr<dht::DhtRunner>> runners;
    for (unsigned i = 0; i < nodes; ++i) {
        dht::DhtRunner::Config cfg;
        cfg.dht_config.node_config.network = netid;
        cfg.dht_config.node_config.node_id = next_to(targets[i % targets.size()]);
        if (i >= targets.size()) cfg.dht_config.node_config.node_id[18] ^= uint8_t(i);
        cfg.threaded = true;
        dht::SockAddr b4;
        b4.setFamily(AF_INET);
        b4.setAddress(bind_ip.c_str());
        b4.setPort(in_port_t(port0 + i));
        dht::DhtRunner::Context ctx;
        ctx.sock = std::make_unique<SpySocket>(b4, journal);
        auto r = std::make_unique<dht::DhtRunner>();
        r->run(cfg, std::move(ctx));
        r->bootstrap(bootstrap.substr(0, colon), bootstrap.substr(colon + 1));
        runners.push_back(std::move(r));
    }
    std::cout << "spying with " << runners.size() << " nodes" << std::endl;
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (auto& r : runners) r->join();
    return 0;
}
