// A simulated NAT in front of simulated hosts, with the behaviours of RFC 4787:
//  - mapping: endpoint-independent (one public port per inside address and port, whatever the
//    destination) or endpoint-dependent ("symmetric": a new public port per destination);
//  - filtering of inbound datagrams: endpoint-independent (anyone may use a mapping),
//    address-dependent (only addresses the mapping has sent to) or address-and-port-dependent
//    (only the exact addresses and ports it has sent to);
//  - mapping expiry: a mapping idle (no outbound datagram; optionally no inbound either) for
//    longer than its timeout is gone, and the next outbound datagram gets a new public port;
//  - rebinding on demand: rebind() drops an inside endpoint's mappings at once, the way a NAT
//    reboot or a carrier-grade NAT's port reuse does.
// Public ports are drawn from the simulator's seeded randomness, so they are not predictable
// from one mapping to the next but are the same in every run of one seed.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "relay/wire/endpoint.h"
#include "tests/sim/sim_clock.h"
#include "tests/sim/sim_random.h"

namespace pave::sim {

enum class MappingBehaviour { endpoint_independent, endpoint_dependent };
enum class FilteringBehaviour { endpoint_independent, address_dependent, address_and_port_dependent };

struct NatConfig {
    MappingBehaviour mapping = MappingBehaviour::endpoint_independent;
    FilteringBehaviour filtering = FilteringBehaviour::address_and_port_dependent;
    std::chrono::milliseconds mapping_timeout{30000};
    bool refresh_on_inbound = false;  // RFC 4787 REQ-6 requires outbound refresh only
    bool hairpin = false;             // inside hosts may reach each other through the public address

    // Common shapes: a "full cone" home router, a port-restricted cone, a symmetric NAT.
    static NatConfig full_cone() { return {MappingBehaviour::endpoint_independent, FilteringBehaviour::endpoint_independent}; }
    static NatConfig port_restricted() {
        return {MappingBehaviour::endpoint_independent, FilteringBehaviour::address_and_port_dependent};
    }
    static NatConfig symmetric() { return {MappingBehaviour::endpoint_dependent, FilteringBehaviour::address_and_port_dependent}; }
};

class SimNat {
public:
    SimNat(std::string public_ip, NatConfig cfg, SimRandom& rng);

    const std::string& public_ip() const { return public_ip_; }
    const NatConfig& config() const { return cfg_; }
    void set_config(const NatConfig& cfg) { cfg_ = cfg; }

    // Outbound: the public source address of a datagram from `inside` to `to` sent at `now`
    // (creates the mapping or refreshes it, and opens the filter towards `to`).
    Endpoint outbound(const Endpoint& inside, const Endpoint& to, TimePoint now);
    // Inbound: the inside endpoint a datagram from `from` to `public_port` reaches at `now`, or
    // nothing (no live mapping, or the filter refuses `from`); refusals are counted.
    std::optional<Endpoint> inbound(const Endpoint& from, uint16_t public_port, TimePoint now);
    // Forgets every mapping of `inside`: its next outbound datagram gets a new public port.
    void rebind(const Endpoint& inside);

    // The public endpoint `inside` has towards `to` now, if a live mapping exists (no refresh).
    std::optional<Endpoint> mapping_of(const Endpoint& inside, const Endpoint& to, TimePoint now) const;
    size_t live_mappings(TimePoint now) const;

    uint64_t mappings_created() const { return created_; }
    uint64_t dropped_no_mapping() const { return no_mapping_; }
    uint64_t dropped_filtered() const { return filtered_; }
    uint64_t mappings_expired() const { return expired_; }

private:
    struct Mapping {
        Endpoint inside;
        uint16_t public_port = 0;
        TimePoint last_used{};
        std::set<std::string> sent_to_ip;    // address-dependent filtering
        std::set<std::string> sent_to_addr;  // address-and-port-dependent filtering
    };
    std::string key_of(const Endpoint& inside, const Endpoint& to) const;
    bool live(const Mapping& m, TimePoint now) const { return now - m.last_used <= cfg_.mapping_timeout; }
    uint16_t fresh_port();
    void erase(uint16_t port);

    std::string public_ip_;
    NatConfig cfg_;
    SimRandom& rng_;
    std::map<uint16_t, Mapping> by_port_;
    std::map<std::string, uint16_t> by_key_;  // key_of(inside, to) -> public port
    uint64_t created_ = 0, no_mapping_ = 0, filtered_ = 0, expired_ = 0;
};

}  // namespace pave::sim
