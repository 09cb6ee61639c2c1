#include "tests/sim/sim_network.h"

#include <stdexcept>

namespace pave::sim {

void SimSocket::send(const Endpoint& to, ByteView data) { net_.send(*this, to, data); }

SimNat& SimNetwork::add_nat(const std::string& public_ip, NatConfig cfg) {
    nats_.push_back(std::make_unique<SimNat>(public_ip, cfg, rng_));
    return *nats_.back();
}

SimSocket& SimNetwork::bind(const Endpoint& local, SimSocket::Receive rx, LinkParams link, SimNat* nat) {
    Key k{nat, local.to_string()};
    if (sockets_.count(k)) throw std::logic_error("sim: address in use: " + k.addr);
    auto s = std::unique_ptr<SimSocket>(new SimSocket(*this, local, nat, link, std::move(rx)));
    return *sockets_.emplace(k, std::move(s)).first->second;
}

void SimNetwork::close(SimSocket& s) { sockets_.erase(Key{s.nat(), s.local().to_string()}); }

void SimNetwork::move(SimSocket& s, const Endpoint& local, SimNat* nat) {
    Key to{nat, local.to_string()};
    if (local == s.local() && nat == s.nat()) return;
    if (sockets_.count(to)) throw std::logic_error("sim: address in use: " + to.addr);
    auto node = sockets_.extract(Key{s.nat(), s.local().to_string()});
    if (node.empty()) throw std::logic_error("sim: no such socket: " + s.local().to_string());
    node.key() = to;
    node.mapped()->local_ = local;
    node.mapped()->nat_ = nat;
    sockets_.insert(std::move(node));
}

SimNat* SimNetwork::nat_with_ip(const std::string& ip) {
    for (auto& n : nats_)
        if (n->public_ip() == ip) return n.get();
    return nullptr;
}

Duration SimNetwork::one_way(const LinkParams& l) {
    Duration d = l.delay;
    if (l.jitter.count() > 0) d += std::chrono::microseconds(rng_.below(uint64_t(l.jitter.count()) * 1000 + 1));
    return d;
}

void SimNetwork::send(SimSocket& from, const Endpoint& to, ByteView data) {
    ++sent_;
    ++from.out_;
    if (from.restricted_) from.sent_to_.insert(to.to_string());
    TimePoint now = events_.now();
    Endpoint src = from.local();
    std::string to_ip = to.ip_string();
    Key dest{nullptr, to.to_string()};
    SimNat* via = nullptr;  // the destination NAT whose inbound translation applies on arrival

    if (from.nat() && sockets_.count(Key{from.nat(), dest.addr})) {
        dest.nat = from.nat();  // the same LAN: no translation
    } else {
        if (from.nat()) {
            if (to_ip == from.nat()->public_ip() && !from.nat()->config().hairpin) {
                ++unroutable_;
                return;
            }
            src = from.nat()->outbound(from.local(), to, now);
        }
        via = nat_with_ip(to_ip);
        if (!via && !sockets_.count(dest)) {
            ++unroutable_;
            return;
        }
    }
    if (tap) tap(src, to, data);

    // The receiving link: the destination socket's own, or for a NAT the link of the inside host
    // is only known on arrival, so a NAT's hosts add theirs then.
    const SimSocket* rx_sock = via ? nullptr : sockets_.at(dest).get();
    if (rng_.chance(from.link_.loss) || (rx_sock && rng_.chance(rx_sock->link_.loss))) {
        ++lost_;
        return;
    }
    Duration delay = one_way(from.link_) + (rx_sock ? one_way(rx_sock->link_) : Duration::zero());
    uint16_t port = to.port();
    events_.after(delay, [this, dest, src, bytes = Bytes(data.begin(), data.end()), via, port]() mutable {
        arrive(dest, src, std::move(bytes), via, port);
    });
}

void SimNetwork::arrive(const Key& to, const Endpoint& from, Bytes data, SimNat* via_nat, uint16_t public_port) {
    Key k = to;
    if (via_nat) {
        auto inside = via_nat->inbound(from, public_port, events_.now());
        if (!inside) {
            ++nat_dropped_;
            return;
        }
        k = Key{via_nat, inside->to_string()};
        auto it = sockets_.find(k);
        if (it == sockets_.end()) {
            ++unroutable_;
            return;
        }
        // The inside host's own link, crossed after the NAT.
        const LinkParams& l = it->second->link_;
        if (rng_.chance(l.loss)) {
            ++lost_;
            return;
        }
        Duration d = one_way(l);
        if (d.count() > 0) {
            events_.after(d, [this, k, from, bytes = std::move(data)]() mutable { arrive(k, from, std::move(bytes), nullptr, 0); });
            return;
        }
    }
    auto it = sockets_.find(k);
    if (it == sockets_.end()) {
        ++unroutable_;
        return;
    }
    SimSocket& s = *it->second;
    if (s.restricted_ && !s.sent_to_.count(from.to_string())) {
        ++s.filtered_;
        ++nat_dropped_;
        return;
    }
    ++delivered_;
    ++s.in_;
    if (s.rx_) s.rx_(from, data);
}

}  // namespace pave::sim
