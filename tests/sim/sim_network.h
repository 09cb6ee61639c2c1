// The simulated IP network: UDP sockets of simulated hosts, each on a public address or on a
// private one behind a SimNat, exchanging datagrams through the event queue with per-link delay,
// jitter and loss (seeded).
//
// Routing: a datagram to a NAT's public address goes through that NAT's inbound translation and
// filter when it arrives; one to a public socket goes straight to it; one to a private address
// reaches it only from behind the same NAT (a LAN); anything else is unroutable and counted.
// A datagram from behind a NAT leaves with the public source the NAT gives it at send time.
// The delay of a datagram is the sum of both ends' link delays plus up to each link's jitter;
// each link drops it with its loss probability.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/sim_nat.h"
#include "tests/sim/sim_random.h"

namespace pave::sim {

struct LinkParams {
    std::chrono::milliseconds delay{5};
    std::chrono::milliseconds jitter{0};
    double loss = 0.0;
};

class SimNetwork;

class SimSocket {
public:
    using Receive = std::function<void(const Endpoint& from, ByteView data)>;

    const Endpoint& local() const { return local_; }
    SimNat* nat() const { return nat_; }
    void send(const Endpoint& to, ByteView data);
    void set_receive(Receive rx) { rx_ = std::move(rx); }
    LinkParams& link() { return link_; }
    uint64_t datagrams_in() const { return in_; }
    uint64_t datagrams_out() const { return out_; }
    // A stateful filter in front of a public socket: from now on only datagrams from addresses
    // (ip and port) it has sent to arrive. A host behind a port-preserving, port-restricted cone
    // NAT that knows its public address looks like this from outside (the namespace lab's
    // relays behind masquerade).
    void restrict_inbound() { restricted_ = true; }
    uint64_t filtered() const { return filtered_; }

private:
    friend class SimNetwork;
    SimSocket(SimNetwork& net, Endpoint local, SimNat* nat, LinkParams link, Receive rx)
        : net_(net), local_(std::move(local)), nat_(nat), link_(link), rx_(std::move(rx)) {}
    SimNetwork& net_;
    Endpoint local_;
    SimNat* nat_;
    LinkParams link_;
    Receive rx_;
    uint64_t in_ = 0, out_ = 0;
    bool restricted_ = false;
    std::set<std::string> sent_to_;  // while restricted
    uint64_t filtered_ = 0;
};

class SimNetwork {
public:
    SimNetwork(EventQueue& events, SimRandom& rng) : events_(events), rng_(rng) {}
    SimNetwork(const SimNetwork&) = delete;
    SimNetwork& operator=(const SimNetwork&) = delete;

    EventQueue& events() { return events_; }
    SimRandom& rng() { return rng_; }

    SimNat& add_nat(const std::string& public_ip, NatConfig cfg);
    // A socket at `local` ("ip:port"): public when `nat` is null, else a private address behind
    // `nat` (several NATs may hide the same private address). Throws if it is taken.
    SimSocket& bind(const Endpoint& local, SimSocket::Receive rx = {}, LinkParams link = {}, SimNat* nat = nullptr);
    SimSocket& bind(const std::string& local, SimSocket::Receive rx = {}, LinkParams link = {}, SimNat* nat = nullptr) {
        return bind(*Endpoint::parse(local), std::move(rx), link, nat);
    }
    // Datagrams on their way to a closed socket are dropped when they arrive.
    void close(SimSocket& s);
    // The socket's host changed its address: it sends from `local` from now on, behind `nat`
    // (nullptr: a public address); datagrams on their way to the old address are dropped when
    // they arrive. Throws if `local` is taken (by another socket).
    void move(SimSocket& s, const Endpoint& local, SimNat* nat);

    void send(SimSocket& from, const Endpoint& to, ByteView data);

    // Sees every datagram the network accepted for delivery (after the sender's NAT, before
    // loss): the source as the world sees it, the destination, the bytes.
    std::function<void(const Endpoint& from, const Endpoint& to, ByteView data)> tap;

    uint64_t sent() const { return sent_; }
    uint64_t delivered() const { return delivered_; }
    uint64_t lost() const { return lost_; }
    uint64_t unroutable() const { return unroutable_; }
    uint64_t nat_dropped() const { return nat_dropped_; }

private:
    struct Key {
        const SimNat* nat;
        std::string addr;
        bool operator<(const Key& o) const { return nat != o.nat ? std::less<>()(nat, o.nat) : addr < o.addr; }
    };
    SimNat* nat_with_ip(const std::string& ip);
    void arrive(const Key& to, const Endpoint& from, Bytes data, SimNat* via_nat, uint16_t public_port);
    Duration one_way(const LinkParams& l);

    EventQueue& events_;
    SimRandom& rng_;
    std::vector<std::unique_ptr<SimNat>> nats_;
    std::map<Key, std::unique_ptr<SimSocket>> sockets_;
    uint64_t sent_ = 0, delivered_ = 0, lost_ = 0, unroutable_ = 0, nat_dropped_ = 0;
};

}  // namespace pave::sim
