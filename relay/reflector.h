// Learns a role's public (reflexive) address: STUN Binding requests, sent from the role's own
// socket, to PAVE peers (every PAVE node answers STUN) and to any --stun server.
// With answers from two or more reflectors it tells whether the NAT mapping is
// endpoint-independent (hole punching works) or endpoint-dependent (symmetric NAT).
//
// I/O-free: probe() hands each request to a send function (the caller's socket, through its
// amplification guard), on_stun() is fed the datagrams that arrive.
#pragma once
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "relay/wire/endpoint.h"
#include "relay/wire/stun.h"

namespace pave {

class Reflector {
public:
    using Clock = std::chrono::steady_clock;
    using Send = std::function<void(const Endpoint& to, ByteView data)>;
    // Requests go to reflectors of `family` only (the family of the role's socket).
    Reflector(sa_family_t family, Send send) : family_(family), send_(std::move(send)) {}

    // Sends (or re-sends, at most every 500 ms) a Binding request to each reflector not yet
    // answered; at most 16 reflectors wait for an answer at a time.
    void probe(const std::vector<Endpoint>& reflectors, Clock::time_point now);
    // A STUN datagram arrived: true if it answered one of our requests.
    bool on_stun(ByteView data, const Endpoint& from);

    // Forgets every answer and pending request (our address may have changed: learn it anew).
    void reset() {
        pending_.clear();
        observations_.clear();
    }

    std::optional<Endpoint> mapped() const;  // the address most reflectors agree on
    NatMapping mapping() const { return classify_nat_mapping(observations_); }
    size_t answers() const { return observations_.size(); }

private:
    sa_family_t family_;
    Send send_;
    struct Pending {
        StunTxId tx;
        Clock::time_point sent;
    };
    std::map<std::string, Pending> pending_;  // by reflector address
    std::vector<StunObservation> observations_;
};

}  // namespace pave
