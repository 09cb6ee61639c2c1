#include "tests/sim/sim_nat.h"

#include <utility>

namespace pave::sim {

SimNat::SimNat(std::string public_ip, NatConfig cfg, SimRandom& rng) : public_ip_(std::move(public_ip)), cfg_(cfg), rng_(rng) {}

std::string SimNat::key_of(const Endpoint& inside, const Endpoint& to) const {
    if (cfg_.mapping == MappingBehaviour::endpoint_independent) return inside.to_string();
    return inside.to_string() + ">" + to.to_string();
}

uint16_t SimNat::fresh_port() {
    for (;;) {
        auto p = uint16_t(20000 + rng_.below(40000));
        if (!by_port_.count(p)) return p;
    }
}

void SimNat::erase(uint16_t port) {
    auto it = by_port_.find(port);
    if (it == by_port_.end()) return;
    for (auto k = by_key_.begin(); k != by_key_.end();) k = k->second == port ? by_key_.erase(k) : std::next(k);
    by_port_.erase(it);
}

Endpoint SimNat::outbound(const Endpoint& inside, const Endpoint& to, TimePoint now) {
    std::string key = key_of(inside, to);
    auto k = by_key_.find(key);
    if (k != by_key_.end() && !live(by_port_.at(k->second), now)) {
        ++expired_;
        erase(k->second);
        k = by_key_.end();
    }
    if (k == by_key_.end()) {
        uint16_t port = fresh_port();
        Mapping m;
        m.inside = inside;
        m.public_port = port;
        by_port_.emplace(port, std::move(m));
        k = by_key_.emplace(key, port).first;
        ++created_;
    }
    Mapping& m = by_port_.at(k->second);
    m.last_used = now;
    m.sent_to_ip.insert(to.ip_string());
    m.sent_to_addr.insert(to.to_string());
    Endpoint pub = *Endpoint::parse(public_ip_ + ":0");
    pub.set_port(m.public_port);
    return pub;
}

std::optional<Endpoint> SimNat::inbound(const Endpoint& from, uint16_t public_port, TimePoint now) {
    auto it = by_port_.find(public_port);
    if (it == by_port_.end()) {
        ++no_mapping_;
        return std::nullopt;
    }
    Mapping& m = it->second;
    if (!live(m, now)) {
        ++expired_;
        ++no_mapping_;
        erase(public_port);
        return std::nullopt;
    }
    bool allowed = true;
    switch (cfg_.filtering) {
    case FilteringBehaviour::endpoint_independent: break;
    case FilteringBehaviour::address_dependent: allowed = m.sent_to_ip.count(from.ip_string()) != 0; break;
    case FilteringBehaviour::address_and_port_dependent: allowed = m.sent_to_addr.count(from.to_string()) != 0; break;
    }
    if (!allowed) {
        ++filtered_;
        return std::nullopt;
    }
    if (cfg_.refresh_on_inbound) m.last_used = now;
    return m.inside;
}

void SimNat::rebind(const Endpoint& inside) {
    for (auto it = by_port_.begin(); it != by_port_.end();) {
        if (it->second.inside == inside) {
            uint16_t p = it->first;
            ++it;
            erase(p);
        } else {
            ++it;
        }
    }
}

std::optional<Endpoint> SimNat::mapping_of(const Endpoint& inside, const Endpoint& to, TimePoint now) const {
    auto k = by_key_.find(key_of(inside, to));
    if (k == by_key_.end()) return std::nullopt;
    const Mapping& m = by_port_.at(k->second);
    if (!live(m, now)) return std::nullopt;
    Endpoint pub = *Endpoint::parse(public_ip_ + ":0");
    pub.set_port(m.public_port);
    return pub;
}

size_t SimNat::live_mappings(TimePoint now) const {
    size_t n = 0;
    for (const auto& [p, m] : by_port_) n += live(m, now);
    return n;
}

}  // namespace pave::sim
