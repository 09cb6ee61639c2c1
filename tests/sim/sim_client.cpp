#include "tests/sim/sim_client.h"

#include <algorithm>

namespace pave::sim {

SimClient::SimClient(SimWorld& world, SimClientOptions opts)
    : world_(world),
      opts_(std::move(opts)),
      sock_(world.net.bind(opts_.address, {}, opts_.link, opts_.nat)),
      engine_(*this, opts_.config),
      ticker_(world.events, [this] { return engine_.on_tick(world_.now()); }),
      wg_(world.rng, [this](ByteView data) {
          // Loopback: the engine reads it at the next step of the loop, never inside a call.
          world_.events.after(Duration::zero(), [this, from = wg_source_, d = Bytes(data.begin(), data.end())] {
              if (closed_) return;
              engine_.on_local_datagram(world_.now(), from, d);
              after(engine_.on_tick(world_.now()));
          });
      }) {
    sock_.set_receive([this](const Endpoint& from, ByteView data) {
        if (closed_) return;
        engine_.on_datagram(world_.now(), from, data);
        after(engine_.on_tick(world_.now()));
    });
}

SimClient::~SimClient() {
    ticker_.stop();
    world_.net.close(sock_);
}

void SimClient::start() {
    engine_.start(world_.now());
    after(world_.events.now());
}

void SimClient::move_address(const Endpoint& local, bool notify, SimNat* nat) {
    world_.net.move(sock_, local, nat ? nat : sock_.nat());
    if (!notify || closed_) return;
    engine_.on_local_addresses_changed(world_.now());
    after(engine_.on_tick(world_.now()));
}

void SimClient::close() {
    engine_.close(world_.now());
    closed_ = true;
    ticker_.stop();
}

bool SimClient::saw_event(const std::string& substring) const {
    for (const auto& e : events_)
        if (e.message.find(substring) != std::string::npos) return true;
    return false;
}

size_t SimClient::count_events(const std::string& substring) const {
    return size_t(std::count_if(events_.begin(), events_.end(),
                                [&](const EngineEvent& e) { return e.message.find(substring) != std::string::npos; }));
}

const EngineEvent* SimClient::find_event(const std::string& substring) const {
    for (const auto& e : events_)
        if (e.message.find(substring) != std::string::npos) return &e;
    return nullptr;
}

void SimClient::send(const Endpoint& to, ByteView data) { sock_.send(to, data); }

void SimClient::dht_put(const DhtKey& key, Bytes value) { world_.dht.put(key, std::move(value), opts_.address); }

DhtListenToken SimClient::dht_get(const DhtKey& key) {
    return world_.dht.get(
        key, opts_.address,
        [this](SimDht::Token token, const DhtKey& k, const std::vector<Bytes>& values, bool) {
            if (closed_) return;
            engine_.on_dht_values(world_.now(), k, token, values, false);
            after(engine_.on_tick(world_.now()));
        },
        [this, key](SimDht::Token token) {
            if (closed_) return;
            engine_.on_dht_done(world_.now(), key, token, true);
            after(engine_.on_tick(world_.now()));
        });
}

DhtListenToken SimClient::dht_listen(const DhtKey& key) {
    return world_.dht.listen(key, [this](SimDht::Token token, const DhtKey& k, const std::vector<Bytes>& values, bool expired) {
        if (closed_) return;
        engine_.on_dht_values(world_.now(), k, token, values, expired);
        after(engine_.on_tick(world_.now()));
    }, opts_.address);
}

void SimClient::dht_cancel_listen(const DhtKey&, DhtListenToken token) { world_.dht.cancel(token); }

void SimClient::event(const EngineEvent& e) { events_.push_back(e); }

void SimClient::send_wireguard(const Endpoint& to, ByteView data) { sock_.send(to, data); }

void SimClient::send_local(const Endpoint& to, ByteView data) {
    if (!(to == wg_source_)) return;
    ++local_sent_;
    world_.events.after(Duration::zero(), [this, d = Bytes(data.begin(), data.end())] { wg_.on_datagram(d); });
}

void SimClient::send_probe(const Endpoint& to, ByteView data) {
    ++probes_sent_;
    sock_.send(to, data);
}

std::vector<Endpoint> SimClient::known_nodes(size_t max) {
    std::vector<Endpoint> out(opts_.known_nodes.begin(),
                              opts_.known_nodes.begin() + std::min(max, opts_.known_nodes.size()));
    return out;
}

std::vector<Endpoint> SimClient::candidates(const std::optional<Endpoint>& reflexive, size_t max) {
    std::vector<Endpoint> out;
    if (reflexive) out.push_back(*reflexive);
    if (out.size() < max && !(reflexive && *reflexive == sock_.local())) out.push_back(sock_.local());
    if (out.size() > max) out.resize(max);
    return out;
}

}  // namespace pave::sim
