#include "relay/reflector.h"

namespace pave {

void Reflector::probe(const std::vector<Endpoint>& reflectors, Clock::time_point now) {
    for (const auto& r : reflectors) {
        if (r.family() != family_) continue;
        bool answered = false;
        for (const auto& o : observations_) answered |= o.reflector == r;
        if (answered) continue;
        auto it = pending_.find(r.to_string());
        if (it != pending_.end() && now - it->second.sent < std::chrono::milliseconds(500)) continue;
        if (pending_.size() >= 16 && it == pending_.end()) continue;  // bounded
        Pending p;
        Bytes req = build_binding_request(p.tx);
        p.sent = now;
        send_(r, req);
        pending_[r.to_string()] = p;
    }
}

bool Reflector::on_stun(ByteView data, const Endpoint& from) {
    auto it = pending_.find(from.to_string());
    if (it == pending_.end()) return false;
    auto mapped = parse_binding_response(data, it->second.tx);
    if (!mapped) return false;
    pending_.erase(it);
    if (observations_.size() < 16) observations_.push_back({from, *mapped});
    return true;
}

std::optional<Endpoint> Reflector::mapped() const {
    std::optional<Endpoint> best;
    size_t best_n = 0;
    for (const auto& a : observations_) {
        size_t n = 0;
        for (const auto& b : observations_) n += a.mapped == b.mapped;
        if (n > best_n) best = a.mapped, best_n = n;
    }
    return best;
}

}  // namespace pave
