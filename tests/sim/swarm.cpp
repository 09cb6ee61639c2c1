#include "tests/sim/swarm.h"

#include <string>

namespace pave::sim {

Swarm::~Swarm() {
    // Clients first: their CLOSE frames go nowhere (the queue is not run again).
    for (auto& c : clients) c->close();
    clients.clear();
    relays.clear();
    vpns.clear();
    reflectors.clear();
}

SimRelay& Swarm::add_relay(RelayEngineConfig cfg, LinkParams link, const std::string& address) {
    SimRelayOptions o;
    o.address = address.empty() ? "203.0.113." + std::to_string(10 + relays.size()) + ":4500" : address;
    o.config = cfg;
    o.link = link;
    relays.push_back(std::make_unique<SimRelay>(*this, o));
    for (auto& c : clients) c->set_known_nodes(known_nodes());
    return *relays.back();
}

SimNat& Swarm::add_nat(NatConfig cfg) {
    nats.push_back(&net.add_nat("198.51.100." + std::to_string(1 + nats.size()), cfg));
    return *nats.back();
}

SimClient& Swarm::add_client(ClientEngineConfig cfg, SimNat* nat, LinkParams link) {
    SimClientOptions o;
    size_t i = clients.size();
    o.address = nat ? "192.168." + std::to_string(1 + i) + ".2:4600" : "198.51.100." + std::to_string(101 + i) + ":4600";
    o.nat = nat;
    if (!cfg.vpn.valid() && !vpns.empty()) cfg.vpn = vpns.front()->endpoint();
    o.config = cfg;
    o.link = link;
    o.known_nodes = known_nodes();
    clients.push_back(std::make_unique<SimClient>(*this, o));
    return *clients.back();
}

SimWireGuardServer& Swarm::add_vpn(LinkParams link) {
    auto at = *Endpoint::parse("192.0.2." + std::to_string(200 + vpns.size()) + ":51820");
    vpns.push_back(std::make_unique<SimWireGuardServer>(net, at, link));
    return *vpns.back();
}

SimReflector& Swarm::add_reflector() {
    auto at = *Endpoint::parse("192.0.2." + std::to_string(100 + reflectors.size()) + ":4222");
    reflectors.push_back(std::make_unique<SimReflector>(net, at));
    for (auto& c : clients) c->set_known_nodes(known_nodes());
    return *reflectors.back();
}

std::vector<Endpoint> Swarm::known_nodes() const {
    std::vector<Endpoint> out;
    for (const auto& r : reflectors) out.push_back(r->endpoint());
    for (const auto& r : relays) out.push_back(r->endpoint());
    return out;
}

std::vector<Endpoint> Swarm::relay_endpoints() const {
    std::vector<Endpoint> out;
    for (const auto& r : relays) out.push_back(r->endpoint());
    return out;
}

SimRelay* Swarm::relay_by_key(const Ed25519Public& pub) {
    for (auto& r : relays)
        if (r->node_pub() == pub) return r.get();
    return nullptr;
}

}  // namespace pave::sim
