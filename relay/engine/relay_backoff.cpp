#include "relay/engine/relay_backoff.h"

#include <algorithm>

namespace pave {

void RelayBackoff::failed(const Ed25519Public& relay, Clock::time_point now) {
    auto it = entries_.find(relay);
    if (it == entries_.end()) {
        if (entries_.size() >= kMaxEntries) {
            auto first = std::min_element(entries_.begin(), entries_.end(),
                                          [](const auto& a, const auto& b) { return a.second.until < b.second.until; });
            entries_.erase(first);
        }
        it = entries_.emplace(relay, Entry{}).first;
    }
    Entry& e = it->second;
    // A relay that behaved for kMax past its last avoid time starts afresh.
    const bool fresh = e.last == Clock::duration::zero() || now > e.until + kMax;
    Clock::duration d = fresh ? Clock::duration(kFirst) : std::min<Clock::duration>(e.last * 2, kMax);
    e.last = d;
    e.until = std::max(e.until, now + d);
}

bool RelayBackoff::avoided(const Ed25519Public& relay, Clock::time_point now) const {
    auto it = entries_.find(relay);
    return it != entries_.end() && now < it->second.until;
}

RelayBackoff::Clock::time_point RelayBackoff::until(const Ed25519Public& relay) const {
    auto it = entries_.find(relay);
    return it == entries_.end() ? Clock::time_point::min() : it->second.until;
}

std::vector<RelayInfo> RelayBackoff::filter(const std::vector<RelayInfo>& live, Clock::time_point now) const {
    std::vector<RelayInfo> out;
    out.reserve(live.size());
    for (const auto& r : live)
        if (!avoided(r.node_pub, now)) out.push_back(r);
    return out;
}

}  // namespace pave
