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
Bytes address_key(const Endpoint& e) { return e.canonical_ip(); }

}  // namespace

// ---- DestinationLimiter ----

DestinationLimiter::DestinationLimiter(double burst, double rate_per_s, size_t max_destinations,
                                       double claimed_burst_bytes, double claimed_bytes_per_s)
    : limiter_(rate_per_s, burst, max_destinations, KeyedRateLimiter::WhenFull::deny_new),
      claimed_(claimed_bytes_per_s, claimed_burst_bytes, max_destinations, KeyedRateLimiter::WhenFull::deny_new) {}

bool DestinationLimiter::take_claimed(const Endpoint& vpn, size_t bytes, time_point now) {
    if (!vpn.valid()) return false;
    return claimed_.allow(address_key(vpn), now, double(bytes));
}

bool DestinationLimiter::take(const Endpoint& vpn, time_point now) {
    if (!vpn.valid()) return false;
    return limiter_.allow(address_key(vpn), now);
}

// ---- Gate::PendingHandshakes ----

void Gate::PendingHandshakes::add(uint32_t sender_index, WgType type, time_point now) {
    slots_[next_] = Slot{sender_index, type, true, now};
    next_ = (next_ + 1) % slots_.size();
}

Gate::PendingHandshakes::Match Gate::PendingHandshakes::answer(uint32_t receiver_index, WgType answer,
                                                               time_point now, duration window) {
    Match m = Match::none;
    for (size_t i = 0; i < slots_.size(); ++i) {
        Slot& s = slots_[(next_ + i) % slots_.size()];  // oldest first
        if (!s.pending || s.index != receiver_index) continue;
        const bool fits = answer == WgType::cookie_reply ||
                          (answer == WgType::response && s.type == WgType::initiation);
        if (!fits) continue;
        // A clock that stepped back counts as no time elapsed.
        if (now > s.at && now - s.at > window) {
            m = Match::late;
            continue;
        }
        s.pending = false;
        return Match::answered;
    }
    return m;
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
      last_to_client_(now),
      lapse_(kLapseRate, kLapseBurst),
      share_last_(now) {
    if (!limits_.share) limits_.share = std::make_shared<ForwardShare>();
    share_tokens_ = kShareMinBurst;
}

time_point Gate::deadline() const {
    if (closed_) return time_point::min();
    if (!unlocked_) return add_saturating(created_, limits_.handshake_timeout);
    return add_saturating(std::min(last_to_endpoint_, last_to_client_), limits_.idle_timeout);
}

bool Gate::expired(time_point now) const { return closed_ || now >= deadline(); }

Gate::Verdict Gate::from_client(ByteView pkt, time_point now) {
    return finish(decide_client(pkt, now), pkt, true, now);
}

Gate::Verdict Gate::from_endpoint(ByteView pkt, time_point now) {
    return finish(decide_endpoint(pkt, now), pkt, false, now);
}

void Gate::endpoint_refused(time_point) {
    if (!closed_) note_endpoint_junk();
}

Gate::Claim Gate::claim_keypair(uint32_t client_index, uint32_t vpn_index, time_point now) {
    if (closed_) return Claim::closed;
    if (unlocked_) return Claim::unlocked;
    if (client_index == vpn_index) return Claim::same_index;
    if (claim_ && claim_->client_index == client_index && claim_->vpn_index == vpn_index) return Claim::accepted;
    if (claims_ >= kMaxClaims) return Claim::too_many;
    for (uint32_t i = 0; i < claims_; ++i)
        if (claimed_vpn_[i] == client_index) return Claim::same_index;  // an echo of earlier data would unlock it
    if (!destinations_.take(vpn_, now)) return Claim::rate_destination;
    claimed_vpn_[claims_] = vpn_index;
    ++claims_;
    claim_ = KeypairClaim{client_index, vpn_index};
    claim_sent_.reset();
    return Claim::accepted;
}

void Gate::note_endpoint_junk() {
    if (unlocked_) return;
    if (++endpoint_junk_ >= kMaxEndpointJunk) closed_ = true;
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

Gate::Verdict Gate::answered(PendingHandshakes::Match m) {
    return m == PendingHandshakes::Match::late ? Verdict::drop_late_answer : Verdict::drop_unknown_index;
}

bool Gate::take_share(size_t bytes, time_point now) {
    const double rate = limits_.share->share(share_seen_, now);
    const double burst = std::max(kShareMinBurst, rate * kShareBurstSeconds);
    if (now > share_last_) {
        share_tokens_ += rate * std::chrono::duration<double>(now - share_last_).count();
        share_last_ = now;
    }
    share_tokens_ = std::min(share_tokens_, burst);
    if (share_tokens_ < double(bytes)) return false;
    share_tokens_ -= double(bytes);
    return true;
}

// Checks common to both directions: closed, expired, not WireGuard-shaped.
std::optional<Gate::Verdict> Gate::precheck(ByteView pkt, time_point now, std::optional<WgMessage>& msg) {
    if (closed_) return Verdict::drop_closed;
    if (now >= deadline()) {
        closed_ = true;
        return Verdict::drop_closed;
    }
    msg = parse_wireguard(pkt);
    if (!msg) return Verdict::drop_not_wireguard;
    return std::nullopt;
}

Gate::Verdict Gate::decide_client(ByteView pkt, time_point now) {
    std::optional<WgMessage> msg;
    if (auto v = precheck(pkt, now, msg)) return *v;
    if (msg->type == WgType::initiation) {
        if (!client_inits_.take(now)) return Verdict::drop_rate_session;
        if (!unlocked_ && !destinations_.take(vpn_, now)) return Verdict::drop_rate_destination;
        sent_by_client_.add(msg->sender_index, WgType::initiation, now);
        return Verdict::forward;
    }
    if (!unlocked_) {
        // A claimed keypair's data, under the budget, until the endpoint answers on it.
        if (msg->type != WgType::transport || !claim_ || msg->receiver_index != claim_->vpn_index)
            return Verdict::drop_locked;
        if (claim_packets_ >= kClaimBudgetPackets || claim_bytes_ + pkt.size() > kClaimBudgetBytes ||
            !destinations_.take_claimed(vpn_, pkt.size(), now))
            return Verdict::drop_claim_budget;
        if (!take_share(pkt.size(), now)) return Verdict::drop_share;
        claim_bytes_ += pkt.size();
        ++claim_packets_;
        claim_sent_ = now;
        return Verdict::forward;
    }
    switch (msg->type) {
    case WgType::response: {
        // The client answers a rekey the endpoint started.
        auto m = sent_by_endpoint_.answer(msg->receiver_index, WgType::response, now, limits_.answer_window);
        if (m != PendingHandshakes::Match::answered) return answered(m);
        sent_by_client_.add(msg->sender_index, WgType::response, now);
        client_data_.add(msg->receiver_index);
        endpoint_data_.add(msg->sender_index);
        return Verdict::forward;
    }
    case WgType::cookie_reply: {
        auto m = sent_by_endpoint_.answer(msg->receiver_index, WgType::cookie_reply, now, limits_.answer_window);
        if (m != PendingHandshakes::Match::answered) return answered(m);
        return Verdict::forward;
    }
    default: {
        // Transport data and keepalives, only on a keypair a handshake through this gate set
        // up, and beyond the lapse bucket only while the endpoint is heard from.
        if (!client_data_.contains(msg->receiver_index)) return Verdict::drop_unknown_index;
        const bool live = now <= add_saturating(endpoint_heard_, kLiveness);
        if (!live && lapse_.available(now) < double(pkt.size())) {
            lapse_.take(now, double(pkt.size()));  // refills; takes nothing
            return Verdict::drop_no_return;
        }
        if (!take_share(pkt.size(), now)) return Verdict::drop_share;
        if (!live) lapse_.take(now, double(pkt.size()));
        return Verdict::forward;
    }
    }
}

Gate::Verdict Gate::decide_endpoint(ByteView pkt, time_point now) {
    std::optional<WgMessage> msg;
    if (auto v = precheck(pkt, now, msg)) {
        if (*v == Verdict::drop_not_wireguard) note_endpoint_junk();
        return *v;
    }
    switch (msg->type) {
    case WgType::response: {
        auto m = sent_by_client_.answer(msg->receiver_index, WgType::response, now, limits_.answer_window);
        if (m != PendingHandshakes::Match::answered) return answered(m);
        unlocked_ = true;
        sent_by_endpoint_.add(msg->sender_index, WgType::response, now);
        client_data_.add(msg->sender_index);
        endpoint_data_.add(msg->receiver_index);
        return Verdict::forward;
    }
    case WgType::cookie_reply: {
        auto m = sent_by_client_.answer(msg->receiver_index, WgType::cookie_reply, now, limits_.answer_window);
        if (m != PendingHandshakes::Match::answered) return answered(m);
        return Verdict::forward;
    }
    case WgType::initiation:
        if (!unlocked_) return Verdict::drop_locked;
        if (!endpoint_inits_.take(now)) return Verdict::drop_rate_session;
        sent_by_endpoint_.add(msg->sender_index, WgType::initiation, now);
        return Verdict::forward;
    case WgType::transport:
        if (!unlocked_) {
            // The endpoint answers on a claimed keypair, soon after a claimed datagram reached it.
            if (!claim_ || msg->receiver_index != claim_->client_index || !claim_sent_ ||
                (now > *claim_sent_ && now - *claim_sent_ > limits_.answer_window))
                return Verdict::drop_locked;
            if (!take_share(pkt.size(), now)) return Verdict::drop_share;
            unlocked_ = true;
            unlocked_by_claim_ = true;
            client_data_.add(claim_->vpn_index);
            endpoint_data_.add(claim_->client_index);
            endpoint_heard_ = std::max(endpoint_heard_, now);
            return Verdict::forward;
        }
        if (!endpoint_data_.contains(msg->receiver_index)) return Verdict::drop_unknown_index;
        if (!take_share(pkt.size(), now)) return Verdict::drop_share;
        endpoint_heard_ = std::max(endpoint_heard_, now);
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
    case Gate::Verdict::drop_share: return "drop_share";
    case Gate::Verdict::drop_closed: return "drop_closed";
    case Gate::Verdict::drop_unknown_index: return "drop_unknown_index";
    case Gate::Verdict::drop_late_answer: return "drop_late_answer";
    case Gate::Verdict::drop_no_return: return "drop_no_return";
    case Gate::Verdict::drop_claim_budget: return "drop_claim_budget";
    }
    return "?";
}

// ---- SessionCaps ----

SessionCaps::SessionCaps(size_t per_ip, size_t total) : per_ip_(per_ip), max_total_(total) {}

std::optional<Bytes> SessionCaps::key_of(const Bytes& ip) {
    if (ip.size() != 4 && ip.size() != 16) return std::nullopt;
    Bytes key = Endpoint::unmapped_ip(ip);
    if (key.size() == 16) key.resize(8);  // the /64
    return key;
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
