// Learns this role's public (reflexive) address: STUN Binding requests, sent from the role's
// own socket, to PAVE peers (every PAVE node answers STUN) and to any --stun server.
// With answers from two or more reflectors it tells whether the NAT mapping is
// endpoint-independent (hole punching works) or endpoint-dependent (symmetric NAT).
#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <vector>

#include "relay/endpoint.h"
#include "relay/stun.h"

namespace pave {

class UdpPort;

class Reflector {
public:
    using Clock = std::chrono::steady_clock;
    explicit Reflector(UdpPort& port) : port_(port) {}

    // Sends (or re-sends) a Binding request to each reflector not yet answered.
    void probe(const std::vector<Endpoint>& reflectors, Clock::time_point now);
    // A STUN datagram arrived: true if it answered one of our requests.
    bool on_stun(ByteView data, const Endpoint& from);

    std::optional<Endpoint> mapped() const;  // the address most reflectors agree on
    NatMapping mapping() const { return classify_nat_mapping(observations_); }
    size_t answers() const { return observations_.size(); }

private:
    UdpPort& port_;
    struct Pending {
        StunTxId tx;
        Clock::time_point sent;
    };
    std::map<std::string, Pending> pending_;  // by reflector address
    std::vector<StunObservation> observations_;
};

}  // namespace pave
