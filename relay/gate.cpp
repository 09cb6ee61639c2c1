#include "relay/gate.h"

#include <algorithm>

namespace pave {
namespace {

using time_point = std::chrono::steady_clock::time_point;
using duration = std::chrono::steady_clock::duration;

time_point add_saturating(time_point t, duration d) {
    if (d <= duration::zero()) return t;
    if (t.time_since_epoch() > time_point::max().time_since_epoch() - d) return time_point::max();
    return t + d;
}

// IPv4-mapped IPv6 keys as the IPv4 address, so both spellings share one budget.
Bytes address_key(const Endpoint& e) {
    Bytes b = e.ip_bytes();
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (b.size() == 16 && std::equal(kMapped, kMapped + 12, b.begin())) return Bytes(b.begin() + 12, b.end());
    return b;
}

}  // namespace

// ---- DestinationLimiter ----

DestinationLimiter::DestinationLimiter(double burst, double rate_per_s, size_t max_destinations)
    : limiter_(rate_per_s, burst, max_destinations, KeyedRateLimiter::WhenFull::deny_new) {}

bool DestinationLimiter::take(const Endpoint& vpn, time_point now) {
    if (!vpn.valid()) return false;
    return limiter_.allow(address_key(vpn), now);
}

// ---- Gate::PendingHandshakes ----

void Gate::PendingHandshakes::add(uint32_t sender_index, WgType type) {
    slots_[next_] = Slot{sender_index, type, true};
    next_ = (next_ + 1) % slots_.size();
}

bool Gate::PendingHandshakes::answer(uint32_t receiver_index, WgType answer) {
    for (size_t i = 0; i < slots_.size(); ++i) {
        Slot& s = slots_[(next_ + i) % slots_.size()];  // oldest first
        if (!s.pending || s.index != receiver_index) continue;
        const bool fits = answer == WgType::cookie_reply ||
                          (answer == WgType::response && s.type == WgType::initiation);
        if (!fits) continue;
        s.pending = false;
        return true;
    }
    return false;
}

// ---- Gate ----

Gate::Gate(const GateLimits& limits, DestinationLimiter& destinations, const Endpoint& vpn, time_point now)
    : limits_(limits),
      destinations_(destinations),
      vpn_(vpn),
      client_inits_(limits.init_rate, limits.init_burst),
      endpoint_inits_(limits.init_rate, limits.init_burst),
      created_(now),
      last_to_endpoint_(now),
      last_to_client_(now) {}

time_point Gate::deadline() const {
    if (closed_ || quota_exhausted_) return time_point::min();
    if (!unlocked_) return add_saturating(created_, limits_.handshake_timeout);
    return add_saturating(std::min(last_to_endpoint_, last_to_client_), limits_.idle_timeout);
}

bool Gate::expired(time_point now) const { return closed_ || quota_exhausted_ || now >= deadline(); }

Gate::Verdict Gate::from_client(ByteView pkt, time_point now) {
    return finish(decide_client(pkt, now), pkt, true, now);
}

Gate::Verdict Gate::from_endpoint(ByteView pkt, time_point now) {
    return finish(decide_endpoint(pkt, now), pkt, false, now);
}

Gate::Verdict Gate::finish(Verdict v, ByteView pkt, bool to_endpoint, time_point now) {
    counts_[size_t(v)]++;
    if (v != Verdict::forward) return v;
    if (to_endpoint) {
        bytes_to_endpoint_ += pkt.size();
        packets_to_endpoint_++;
        last_to_endpoint_ = std::max(last_to_endpoint_, now);
    } else {
        bytes_to_client_ += pkt.size();
        packets_to_client_++;
        last_to_client_ = std::max(last_to_client_, now);
    }
    return v;
}

// Checks common to both directions: closed, out of quota, expired, not WireGuard-shaped.
std::optional<Gate::Verdict> Gate::precheck(ByteView pkt, time_point now, std::optional<WgMessage>& msg) {
    if (closed_) return Verdict::drop_closed;
    if (quota_exhausted_) return Verdict::drop_quota;
    if (now >= deadline()) {
        closed_ = true;
        return Verdict::drop_closed;
    }
    msg = parse_wireguard(pkt);
    if (!msg) return Verdict::drop_not_wireguard;
    if (bytes_to_endpoint_ + bytes_to_client_ + pkt.size() > limits_.max_bytes ||
        packets_to_endpoint_ + packets_to_client_ + 1 > limits_.max_packets) {
        quota_exhausted_ = true;
        return Verdict::drop_quota;
    }
    return std::nullopt;
}

Gate::Verdict Gate::decide_client(ByteView pkt, time_point now) {
    std::optional<WgMessage> msg;
    if (auto v = precheck(pkt, now, msg)) return *v;
    if (msg->type == WgType::initiation) {
        if (!client_inits_.take(now)) return Verdict::drop_rate_session;
        if (!unlocked_ && !destinations_.take(vpn_, now)) return Verdict::drop_rate_destination;
        sent_by_client_.add(msg->sender_index, WgType::initiation);
        return Verdict::forward;
    }
    if (!unlocked_) return Verdict::drop_locked;
    switch (msg->type) {
    case WgType::response:
        // The client answers a rekey the endpoint started.
        if (!sent_by_endpoint_.answer(msg->receiver_index, WgType::response)) return Verdict::drop_unknown_index;
        sent_by_client_.add(msg->sender_index, WgType::response);
        client_data_.add(msg->receiver_index);
        endpoint_data_.add(msg->sender_index);
        return Verdict::forward;
    case WgType::cookie_reply:
        if (!sent_by_endpoint_.answer(msg->receiver_index, WgType::cookie_reply))
            return Verdict::drop_unknown_index;
        return Verdict::forward;
    default:
        // Transport data and keepalives, only on a keypair a handshake through this gate set up.
        if (!client_data_.contains(msg->receiver_index)) return Verdict::drop_unknown_index;
        return Verdict::forward;
    }
}

Gate::Verdict Gate::decide_endpoint(ByteView pkt, time_point now) {
    std::optional<WgMessage> msg;
    if (auto v = precheck(pkt, now, msg)) return *v;
    switch (msg->type) {
    case WgType::response:
        if (!sent_by_client_.answer(msg->receiver_index, WgType::response)) return Verdict::drop_unknown_index;
        unlocked_ = true;
        sent_by_endpoint_.add(msg->sender_index, WgType::response);
        client_data_.add(msg->sender_index);
        endpoint_data_.add(msg->receiver_index);
        return Verdict::forward;
    case WgType::cookie_reply:
        if (!sent_by_client_.answer(msg->receiver_index, WgType::cookie_reply)) return Verdict::drop_unknown_index;
        return Verdict::forward;
    case WgType::initiation:
        if (!unlocked_) return Verdict::drop_locked;
        if (!endpoint_inits_.take(now)) return Verdict::drop_rate_session;
        sent_by_endpoint_.add(msg->sender_index, WgType::initiation);
        return Verdict::forward;
    case WgType::transport:
        if (!unlocked_) return Verdict::drop_locked;
        if (!endpoint_data_.contains(msg->receiver_index)) return Verdict::drop_unknown_index;
        return Verdict::forward;
    }
    return Verdict::drop_not_wireguard;
}

const char* to_string(Gate::Verdict v) {
    switch (v) {
    case Gate::Verdict::forward: return "forward";
    case Gate::Verdict::drop_not_wireguard: return "drop_not_wireguard";
    case Gate::Verdict::drop_locked: return "drop_locked";
    case Gate::Verdict::drop_rate_session: return "drop_rate_session";
    case Gate::Verdict::drop_rate_destination: return "drop_rate_destination";
    case Gate::Verdict::drop_quota: return "drop_quota";
    case Gate::Verdict::drop_closed: return "drop_closed";
    case Gate::Verdict::drop_unknown_index: return "drop_unknown_index";
    }
    return "?";
}

// ---- SessionCaps ----

SessionCaps::SessionCaps(size_t per_ip, size_t total) : per_ip_(per_ip), max_total_(total) {}

std::optional<Bytes> SessionCaps::key_of(const Bytes& ip) {
    if (ip.size() == 4) return ip;
    if (ip.size() != 16) return std::nullopt;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, ip.begin())) return Bytes(ip.begin() + 12, ip.end());
    return Bytes(ip.begin(), ip.begin() + 8);  // the /64
}

bool SessionCaps::try_add(const Bytes& client_ip) {
    auto key = key_of(client_ip);
    if (!key || total_ >= max_total_) return false;
    auto it = per_key_.find(*key);
    if (it != per_key_.end() && it->second >= per_ip_) return false;
    if (per_ip_ == 0) return false;
    ++per_key_[*key];
    ++total_;
    return true;
}

void SessionCaps::remove(const Bytes& client_ip) {
    auto key = key_of(client_ip);
    if (!key) return;
    auto it = per_key_.find(*key);
    if (it == per_key_.end()) return;
    if (--it->second == 0) per_key_.erase(it);
    --total_;
}

size_t SessionCaps::count(const Bytes& client_ip) const {
    auto key = key_of(client_ip);
    if (!key) return 0;
    auto it = per_key_.find(*key);
    return it == per_key_.end() ? 0 : it->second;
}

}  // namespace pave
