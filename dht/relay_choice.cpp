#include "dht/relay_choice.h"

#include "crypto/random.h"

namespace pave {

const char* to_string(RelayChoice::Pace p) {
    switch (p) {
        case RelayChoice::Pace::calm: return "calm";
        case RelayChoice::Pace::brisk: return "brisk";
        case RelayChoice::Pace::flood: return "flood";
    }
    return "?";
}

RelayChoice::RelayChoice(Clock::time_point start, Params p) : p_(p), start_(start) {}

RelayChoice::Pace RelayChoice::pace(Clock::time_point now) const {
    if (silent_ > 0) return Pace::flood;
    if (answered_ == 0 && now - start_ >= p_.brisk_after) return Pace::brisk;
    return Pace::calm;
}

std::optional<RelayInfo> RelayChoice::next(const std::vector<RelayInfo>& live, Clock::time_point now) {
    Pace pc = pace(now);
    auto spacing = pc == Pace::flood ? p_.flood_spacing : pc == Pace::brisk ? p_.brisk_spacing : p_.calm_spacing;
    size_t cap = pc == Pace::flood ? p_.flood_outstanding : pc == Pace::brisk ? p_.brisk_outstanding : p_.calm_outstanding;
    if (waiting_.size() >= cap || (next_allowed_ && now < *next_allowed_)) return std::nullopt;

    auto candidates = [&](bool only_answered) {
        std::vector<const RelayInfo*> out;
        for (const auto& r : live)
            if ((!only_answered || r.answered) && !tried_.count(r.node_pub) && !waiting_.count(r.node_pub))
                out.push_back(&r);
        return out;
    };
    auto pool = candidates(true);
    if (pool.empty()) pool = candidates(false);
    if (pool.empty() && waiting_.empty() && !tried_.empty()) {
        tried_.clear();  // everyone was asked: start over
        ++cycles_;
        pool = candidates(true);
        if (pool.empty()) pool = candidates(false);
    }
    if (pool.empty()) return std::nullopt;
    const RelayInfo& r = *pool[random_below(pool.size())];
    tried_.insert(r.node_pub);
    ever_asked_.insert(r.node_pub);
    waiting_[r.node_pub] = now;
    Clock::time_point base = next_allowed_ ? std::max(*next_allowed_, now - kCatchUp) : now;
    next_allowed_ = base + spacing;
    ++asked_;
    return r;
}

bool RelayChoice::cycle_over(const std::vector<RelayInfo>& live) const {
    if (!waiting_.empty() || tried_.empty()) return false;
    for (const auto& r : live)
        if (!tried_.count(r.node_pub)) return false;
    return true;
}

std::vector<Ed25519Public> RelayChoice::take_silent(Clock::time_point now) {
    std::vector<Ed25519Public> out;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (now - it->second >= p_.answer_wait) {
            out.push_back(it->first);
            ++silent_;
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    return out;
}

void RelayChoice::on_answer(const Ed25519Public& relay) {
    if (waiting_.erase(relay)) ++answered_;
}

void RelayChoice::on_cancel(const Ed25519Public& relay) { waiting_.erase(relay); }

RelayChoice::Clock::time_point RelayChoice::next_deadline(Clock::time_point now) const {
    Clock::time_point t = now + p_.answer_wait;
    for (const auto& [k, at] : waiting_) t = std::min(t, at + p_.answer_wait);
    Pace pc = pace(now);
    if (next_allowed_) t = std::min(t, std::max(now, *next_allowed_));
    if (pc == Pace::calm && answered_ == 0) t = std::min(t, std::max(now, start_ + p_.brisk_after));
    return t;
}

}  // namespace pave
