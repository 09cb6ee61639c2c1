#include "tests/sim/sim_relay.h"

#include <memory>

namespace pave::sim {

SimRelay::SimRelay(SimWorld& world, SimRelayOptions opts)
    : world_(world),
      key_(Ed25519Key::generate()),
      sock_(world.net.bind(opts.address, {}, opts.link)),
      engine_(*this, key_, opts.config, {sock_.local()}),
      ticker_(world.events, [this] { return engine_.on_tick(world_.now()); }) {
    sock_.set_receive([this](const Endpoint& from, ByteView data) {
        if (silent_) return;
        engine_.on_datagram(world_.now(), from, data);
        after_call();
    });
    ticker_.want(world.events.now());  // nothing happens before the first tick
}

SimRelay::~SimRelay() {
    ticker_.stop();
    for (auto& [id, v] : vpn_) world_.net.close(*v.sock);
    world_.net.close(sock_);
}

void SimRelay::set_silent(bool silent) {
    silent_ = silent;
    if (silent) {
        ticker_.stop();
    } else {
        ticker_.resume();
        after_call();
    }
}

bool SimRelay::drain() {
    const bool any = engine_.drain(world_.now());
    after_call();
    return any;
}

void SimRelay::shutdown() {
    engine_.shutdown(world_.now());
    after_call();
}

bool SimRelay::saw_event(const std::string& substring) const {
    for (const auto& e : events_)
        if (e.message.find(substring) != std::string::npos) return true;
    return false;
}

void SimRelay::send(const Endpoint& to, ByteView data) { sock_.send(to, data); }

void SimRelay::dht_put(const DhtKey& key, Bytes value) {
    world_.dht.put(key, std::move(value), sock_.local().to_string());
}

DhtListenToken SimRelay::dht_listen(const DhtKey& key) {
    return world_.dht.listen(key, [this](SimDht::Token token, const DhtKey& k, const std::vector<Bytes>& values, bool expired) {
        if (silent_) return;
        engine_.on_dht_values(world_.now(), k, token, values, expired);
        after_call();
    }, sock_.local().to_string());
}

void SimRelay::dht_cancel_listen(const DhtKey&, DhtListenToken token) { world_.dht.cancel(token); }

uint64_t SimRelay::dht_announce(const DhtKey& key, Bytes value) {
    auto id = std::make_shared<uint64_t>(0);
    *id = world_.dht.announce(key, std::move(value), [this, key, id](bool ok) {
        if (silent_) return;
        engine_.on_announce_done(world_.now(), key, *id, ok);
        after_call();
    }, sock_.local().to_string());
    return *id;
}

void SimRelay::dht_withdraw(const DhtKey& key, uint64_t id) { world_.dht.withdraw(key, id); }

void SimRelay::event(const EngineEvent& e) { events_.push_back(e); }

std::string SimRelay::vpn_open(const ConnId& id, const Endpoint& vpn, uint32_t) {
    if (vpn_.count(id)) return "socket already open";
    Endpoint local = sock_.local();
    local.set_port(next_vpn_port_++);
    SimSocket& s = world_.net.bind(local, [this, id, vpn](const Endpoint& from, ByteView data) {
        if (silent_ || !(from == vpn)) return;  // a connected socket hears only its peer
        engine_.on_vpn_datagram(world_.now(), id, data);
        after_call();
    });
    vpn_.emplace(id, VpnSocket{&s, vpn});
    ++vpn_opened_;
    return "";
}

void SimRelay::vpn_send(const ConnId& id, ByteView data) {
    auto it = vpn_.find(id);
    if (it != vpn_.end()) it->second.sock->send(it->second.vpn, data);
}

void SimRelay::vpn_close(const ConnId& id) {
    auto it = vpn_.find(id);
    if (it == vpn_.end()) return;
    world_.net.close(*it->second.sock);
    vpn_.erase(it);
}

bool SimRelay::send_reply(const Endpoint& to, ByteView data) {
    ++stun_replies_;
    sock_.send(to, data);
    return true;
}

std::vector<Endpoint> SimRelay::own_candidates() {
    if (candidate_override_) return {*candidate_override_};
    return {sock_.local()};
}

std::vector<Endpoint> SimRelay::host_addresses() { return {sock_.local()}; }

}  // namespace pave::sim
