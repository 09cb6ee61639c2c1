// A whole swarm in one process: N relay engines, M client engines, VPN servers and NATs on one
// simulated network and DHT, driven by one virtual clock. Addresses are handed out in fixed
// ranges: relays 203.0.113.(10+i):4500, NATs 198.51.100.(1+i), clients behind a NAT
// 192.168.(1+i).2:4600, public clients 198.51.100.(101+i):4600, VPN servers 192.0.2.(200+i):51820,
// reflectors (STUN-answering DHT peers that are not relays) 192.0.2.(100+i):4222.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tests/sim/sim_client.h"
#include "tests/sim/sim_reflector.h"
#include "tests/sim/sim_relay.h"
#include "tests/sim/sim_wireguard.h"
#include "tests/sim/sim_world.h"

namespace pave::sim {

class Swarm : public SimWorld {
public:
    explicit Swarm(uint64_t seed, DhtParams dht_params = {}) : SimWorld(seed, dht_params) {}
    ~Swarm();

    // address "ip:port": where the relay's port is ("": the next of the relays' range).
    SimRelay& add_relay(RelayEngineConfig cfg = {}, LinkParams link = {}, const std::string& address = "");
    SimNat& add_nat(NatConfig cfg);
    // A client with the given engine config (config.vpn set by the caller, or the first VPN's
    // address when left invalid), behind `nat` (nullptr: on a public address). It knows every
    // relay (present and future) as a reflector. Not started.
    SimClient& add_client(ClientEngineConfig cfg = {}, SimNat* nat = nullptr, LinkParams link = {});
    SimWireGuardServer& add_vpn(LinkParams link = {});
    SimReflector& add_reflector();

    // What clients know as their DHT peers: the reflectors, then the relays.
    std::vector<Endpoint> known_nodes() const;

    std::vector<Endpoint> relay_endpoints() const;
    // The relay whose node key is `pub`, or nullptr.
    SimRelay* relay_by_key(const Ed25519Public& pub);

    bool run_until(const std::function<bool()>& done, Duration limit) { return events.run_until_true(done, limit); }
    void run_for(Duration d) { events.run_for(d); }

    std::vector<std::unique_ptr<SimRelay>> relays;
    std::vector<std::unique_ptr<SimClient>> clients;
    std::vector<std::unique_ptr<SimWireGuardServer>> vpns;
    std::vector<std::unique_ptr<SimReflector>> reflectors;
    std::vector<SimNat*> nats;
};

}  // namespace pave::sim
