#include "dht/opendht/dht_node.h"

#include <opendht.h>

#include <algorithm>
#include <cstdarg>
#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <mutex>

#include "crypto/hex.h"
#include "crypto/random.h"
#include "dht/opendht/shared_socket.h"

namespace pave {

namespace {

dht::InfoHash to_hash(const DhtKey& k) { return dht::InfoHash(k.data(), k.size()); }

std::string vformat(const char* fmt, va_list args) {
    char buf[512];
    va_list copy;
    va_copy(copy, args);
    int n = std::vsnprintf(buf, sizeof buf, fmt, copy);
    va_end(copy);
    if (n < 0) return {};
    return std::string(buf, std::min<size_t>(size_t(n), sizeof buf - 1));
}

// OpenDHT 2.4 logs its routine work (every search, listen and put) at warning level. Only
// lines that report a failure reach PAVE's log as warnings; the rest go to debug.
bool warning_that_matters(const std::string& line) {
    if (line.find("No address to bind") != std::string::npos) return false;  // PAVE hands it its socket
    if (line.rfind("Can't resolve", 0) == 0) return false;  // PAVE warns of an unreachable bootstrap itself
    static const char* markers[] = {"rror", "fail", "Fail", "refus", "denied", "overflow", "limit", "Can't bind"};
    for (const char* m : markers)
        if (line.find(m) != std::string::npos) return true;
    return false;
}

std::shared_ptr<dht::Logger> make_logger(DhtNode::LogFn log, bool verbose) {
    // Errors and warnings alike: passed on as warnings only when they report a failure.
    auto filtered = [log](char const* f, va_list a) {
        if (!log) return;
        std::string line = vformat(f, a);
        log(warning_that_matters(line), line);
    };
    auto dbg = [log, verbose](char const* f, va_list a) {
        if (log && verbose) log(false, vformat(f, a));
    };
    return std::make_shared<dht::Logger>(dht::LogMethod(filtered), dht::LogMethod(filtered), dht::LogMethod(dbg));
}

const char* status_name(dht::NodeStatus s) {
    switch (s) {
        case dht::NodeStatus::Connected: return "connected";
        case dht::NodeStatus::Connecting: return "connecting";
        case dht::NodeStatus::Disconnected: return "disconnected";
    }
    return "?";
}

std::vector<Bytes> payloads(const std::vector<std::shared_ptr<dht::Value>>& vals) {
    std::vector<Bytes> out;
    out.reserve(vals.size());
    for (const auto& v : vals)
        if (v) out.emplace_back(v->data.begin(), v->data.end());
    return out;
}

}  // namespace

struct DhtNode::Impl {
    dht::DhtRunner runner;
    // Listen tokens are futures OpenDHT fulfils on its own thread, possibly only once
    // connected: they are kept, never waited on, and handed back to cancelListen.
    std::map<size_t, std::shared_future<size_t>> listens;
    size_t next_listen = 1;
    SharedSocket* socket = nullptr;  // owned by the runner
    bool has4 = false, has6 = false;
    bool stopped = false;
    std::atomic<int> status4{int(dht::NodeStatus::Disconnected)}, status6{int(dht::NodeStatus::Disconnected)};
    // steady_clock time (ns since its epoch) of the last change to connected; 0 while not connected.
    std::atomic<int64_t> connected_since_ns{0};
    std::atomic<bool> joined{false};  // the own-id lookup since the last connection ended
    dht::InfoHash node_id;
};

namespace {
int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

DhtNode::DhtNode(const Options& opts) : impl_(std::make_unique<Impl>()) {
    dht::DhtRunner::Config cfg;
    cfg.dht_config.node_config.network = opts.network_id;
    // A random routing id per run: nothing ties this run's DHT traffic to another run's.
    impl_->node_id = dht::InfoHash::getRandom();
    cfg.dht_config.node_config.node_id = impl_->node_id;
    cfg.threaded = true;
    // OpenDHT's own limits, cut to what PAVE needs (its defaults are 8,192 requests/s in all,
    // 1,024/s per peer, 64 MiB of storage). A put costs a storer about three requests (search,
    // put, listen refresh), and a client under a Sybil flood puts up to ~30 offers a second, so
    // 512/s per peer leaves room; what a node answers to an unverified address is further
    // bounded by the port's guard.
    auto& nc = cfg.dht_config.node_config;
    nc.max_req_per_sec = kDhtMaxRequestsPerSec;
    nc.max_peer_req_per_sec = kDhtMaxPeerRequestsPerSec;
    nc.max_store_size = kDhtMaxStoreBytes;
    nc.max_store_keys = kDhtMaxStoreKeys;
    dht::DhtRunner::Context ctx;
    ctx.logger = make_logger(opts.log, opts.verbose);
    ctx.statusChangedCallback = [impl = impl_.get(), on_connected = opts.on_connected,
                                 on_joined = opts.on_joined](dht::NodeStatus s4, dht::NodeStatus s6) {
        impl->status4 = int(s4);
        impl->status6 = int(s6);
        const bool up = s4 == dht::NodeStatus::Connected || s6 == dht::NodeStatus::Connected;
        if (!up) {
            impl->connected_since_ns = 0;
            impl->joined = false;
        } else if (impl->connected_since_ns.load() == 0) {
            impl->connected_since_ns = std::max<int64_t>(steady_ns(), 1);
            if (on_connected) on_connected();
            // The join: a lookup of the node's own id, which fills the routing table with its
            // neighbourhood and makes it known there. (DhtRunner::get only queues the operation:
            // safe from this callback.)
            impl->runner.get(
                impl->node_id, [](const std::vector<std::shared_ptr<dht::Value>>&) { return true; },
                [impl, on_joined](bool) {
                    if (impl->connected_since_ns.load() == 0) return;  // lost meanwhile
                    impl->joined = true;
                    if (on_joined) on_joined();
                });
        }
    };
    auto sock = std::make_unique<SharedSocket>(opts.send4, opts.bound4, opts.send6, opts.bound6, opts.client);
    impl_->socket = sock.get();
    impl_->has4 = bool(opts.send4);
    impl_->has6 = bool(opts.send6);
    ctx.sock = std::move(sock);
    impl_->runner.run(cfg, std::move(ctx));
}

DhtNode::~DhtNode() { stop(); }

void DhtNode::deliver(ByteView data, const Endpoint& from) {
    if (!impl_->stopped) impl_->socket->deliver(data, from);
}

void DhtNode::set_client_mode(bool on) {
    if (!impl_->stopped) impl_->socket->set_client_mode(on);
}

bool DhtNode::client_mode() const { return !impl_->stopped && impl_->socket->client_mode(); }

void DhtNode::flush_received() {
    if (!impl_->stopped) impl_->socket->flush();
}

void DhtNode::bootstrap(const std::vector<std::string>& nodes) {
    // OpenDHT keeps every host it is given and, while disconnected, retries them all with its own
    // backoff: given the same host again, it would try (and log) it twice as often. The list is
    // replaced instead, which also makes OpenDHT try it now.
    impl_->runner.clearBootstrap();
    for (const auto& n : nodes) {
        std::string host = n, port = "4222";  // OpenDHT's default port
        if (!n.empty() && n.front() == '[') {  // [v6] or [v6]:port
            auto close = n.find(']');
            if (close == std::string::npos) continue;
            host = n.substr(1, close - 1);
            if (close + 2 < n.size() && n[close + 1] == ':') port = n.substr(close + 2);
        } else if (auto colon = n.rfind(':'); colon != std::string::npos && n.find(':') == colon) {
            host = n.substr(0, colon);  // name:port or a.b.c.d:port; a bare IPv6 address keeps its colons
            port = n.substr(colon + 1);
        }
        if (host.empty() || port.empty()) continue;
        impl_->runner.bootstrap(host, port);
    }
}

void DhtNode::put(const DhtKey& key, Bytes value, DoneCallback done) {
    dht::Value v(value.data(), value.size());
    // A fresh random id each time: a reused id could be squatted by another putter.
    v.id = random_u64();
    impl_->runner.put(to_hash(key), std::move(v), [done = std::move(done)](bool ok) {
        if (done) done(ok);
    });
}

uint64_t DhtNode::announce(const DhtKey& key, Bytes value, DoneCallback done) {
    dht::Value v(value.data(), value.size());
    v.id = random_u64();
    uint64_t id = v.id;
    impl_->runner.put(
        to_hash(key), std::move(v),
        [done = std::move(done)](bool ok) {
            if (done) done(ok);
        },
        dht::time_point::max(), /*permanent=*/true);
    return id;
}

void DhtNode::cancel_announce(const DhtKey& key, uint64_t value_id) {
    if (!impl_->stopped) impl_->runner.cancelPut(to_hash(key), value_id);
}

void DhtNode::get(const DhtKey& key, ValuesCallback values, DoneCallback done) {
    impl_->runner.get(
        to_hash(key),
        [values = std::move(values)](const std::vector<std::shared_ptr<dht::Value>>& vals) {
            values(payloads(vals), false);
            return true;
        },
        [done = std::move(done)](bool ok) {
            if (done) done(ok);
        });
}

size_t DhtNode::listen(const DhtKey& key, ValuesCallback values) {
    auto fut = impl_->runner.listen(
        to_hash(key), [values = std::move(values)](const std::vector<std::shared_ptr<dht::Value>>& vals, bool expired) {
            values(payloads(vals), expired);
            return true;
        });
    size_t id = impl_->next_listen++;
    impl_->listens.emplace(id, fut.share());
    return id;
}

void DhtNode::cancel_listen(const DhtKey& key, size_t token) {
    auto it = impl_->listens.find(token);
    if (it == impl_->listens.end()) return;
    impl_->runner.cancelListen(to_hash(key), it->second);
    impl_->listens.erase(it);
}

DhtStatus DhtNode::status() const {
    DhtStatus s;
    s.v4 = impl_->has4 ? status_name(dht::NodeStatus(impl_->status4.load())) : "off";
    s.v6 = impl_->has6 ? status_name(dht::NodeStatus(impl_->status6.load())) : "off";
    unsigned cached, incoming;
    if (impl_->has4) impl_->runner.getNodesStats(AF_INET, &s.good4, &s.dubious4, &cached, &incoming);
    if (impl_->has6) impl_->runner.getNodesStats(AF_INET6, &s.good6, &s.dubious6, &cached, &incoming);
    return s;
}

bool DhtNode::connected() const {
    auto up = [](int s) { return dht::NodeStatus(s) == dht::NodeStatus::Connected; };
    return (impl_->has4 && up(impl_->status4.load())) || (impl_->has6 && up(impl_->status6.load()));
}

bool DhtNode::ready() const {
    const int64_t since = impl_->connected_since_ns.load();
    if (!connected() || since == 0) return false;
    return impl_->joined.load() ||
           steady_ns() - since >= std::chrono::duration_cast<std::chrono::nanoseconds>(kDhtJoinFallback).count();
}

std::string DhtNode::node_id_hex() const { return impl_->runner.getNodeId().toString(); }

std::vector<DhtStoredValue> DhtNode::export_values() const {
    std::vector<DhtStoredValue> out;
    for (auto& [h, blob] : impl_->runner.exportValues()) {
        DhtStoredValue v;
        std::memcpy(v.key.data(), h.data(), v.key.size());
        v.data.assign(blob.begin(), blob.end());
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<Endpoint> DhtNode::known_nodes(size_t max) const {
    std::vector<Endpoint> out;
    for (const auto& n : impl_->runner.exportNodes()) {
        if (out.size() >= max) break;
        if (auto e = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&n.ss), n.sslen)) out.push_back(*e);
    }
    return out;
}

void DhtNode::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->runner.join();
}

}  // namespace pave
