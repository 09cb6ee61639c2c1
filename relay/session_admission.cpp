#include "relay/session_admission.h"

#include <algorithm>

namespace pave {

SessionAdmission::SessionAdmission(const AdmissionLimits& limits) : limits_(limits) {}

SessionAdmission::OfferDecision SessionAdmission::check_offer(const Offer& offer, uint64_t now_ms,
                                                              const std::vector<Endpoint>& own,
                                                              const std::vector<Endpoint>& own_bound) {
    OfferDecision d;
    const uint64_t skew = now_ms > offer.timestamp_ms ? now_ms - offer.timestamp_ms : offer.timestamp_ms - now_ms;
    if (skew > limits_.clock_skew_ms) {
        d.verdict = Verdict::stale;
        return d;
    }
    if (seen_.count(offer.session_id)) {
        d.verdict = Verdict::replayed;
        return d;
    }
    if (seen_.size() >= limits_.seen_max) {
        d.verdict = Verdict::seen_full;
        return d;
    }
    seen_.emplace(offer.session_id, now_ms);

    std::optional<EndpointVerdict> first_bad;
    for (const auto& c : offer.candidates) {
        EndpointVerdict cv = check_candidate(c, own, own_bound, limits_.allow_private_candidates);
        if (cv == EndpointVerdict::ok && std::find(d.candidates.begin(), d.candidates.end(), c) == d.candidates.end()) {
            d.candidates.push_back(c);
        } else if (cv != EndpointVerdict::ok) {
            ++d.candidates_refused;
            if (!first_bad) first_bad = cv;
        }
    }
    auto refuse = [&](uint8_t code, std::string why) {
        d.verdict = Verdict::refused;
        d.refuse_code = code;
        d.reason = std::move(why);
        d.reach = std::move(d.candidates);
        d.candidates.clear();
        return d;
    };
    EndpointVerdict ev = check_endpoint(offer.vpn, own, limits_.allow_private_endpoints);
    if (ev != EndpointVerdict::ok) return refuse(kRefuseEndpoint, std::string("VPN endpoint refused: ") + to_string(ev));
    if (established_.size() >= limits_.capacity) return refuse(kRefuseCapacity, "relay at capacity");

    if (d.candidates.empty()) {
        size_t refused = d.candidates_refused;
        auto r = refuse(kRefuseNoCandidates, first_bad ? std::string("no usable address candidate: ") + to_string(*first_bad)
                                                       : std::string("no address candidates"));
        r.candidates_refused = refused;
        return r;
    }
    // A client whose every address already carries as many established sessions as allowed:
    // refused now, rather than accepted and refused once its path validates. Pending sessions do
    // not count: where one was heard from proves nothing (one spoofed datagram per session would
    // let anyone holding session keys lock a victim's address out of every relay it reaches).
    bool room = std::any_of(d.candidates.begin(), d.candidates.end(),
                            [&](const Endpoint& c) { return established_from(c) < limits_.per_client; });
    if (!room) {
        size_t refused = d.candidates_refused;
        auto r = refuse(kRefuseAddressLimit, "too many sessions from this address");
        r.candidates_refused = refused;
        return r;
    }
    d.verdict = Verdict::accepted;
    return d;
}

SessionAdmission::Slot SessionAdmission::open(const ConnId& id) {
    Slot s;
    if (pending_.count(id) || established_.count(id)) return s;
    if (limits_.pending == 0) return s;
    if (pending_.size() >= limits_.pending) {
        // The oldest silent one, else the oldest one.
        auto victim = pending_.end();
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
            if (victim == pending_.end()) {
                victim = it;
                continue;
            }
            bool better = it->second.heard != victim->second.heard ? !it->second.heard : it->second.seq < victim->second.seq;
            if (better) victim = it;
        }
        s.evicted = victim->first;
        pending_.erase(victim);
        ++evictions_;
    }
    pending_[id] = Pending{++seq_, false};
    s.ok = true;
    return s;
}

void SessionAdmission::heard(const ConnId& id) {
    auto it = pending_.find(id);
    if (it != pending_.end()) it->second.heard = true;
}

SessionAdmission::Validation SessionAdmission::validated(const ConnId& id, const Endpoint& peer) {
    Validation v;
    if (established_.count(id)) {
        v.ok = true;
        return v;
    }
    if (pending_.erase(id) == 0) {  // evicted or unknown: it has no slot
        ++refused_at_validation_;
        v.refuse_code = kRefuseInternal;
        v.reason = "no slot for this session";
        return v;
    }
    Bytes group = address_group(peer);
    auto refuse = [&](uint8_t code, std::string why) {
        ++refused_at_validation_;
        v.refuse_code = code;
        v.reason = std::move(why);
        return v;
    };
    if (group.empty()) return refuse(kRefuseInternal, "invalid client address");
    if (established_.size() >= limits_.capacity) return refuse(kRefuseCapacity, "relay at capacity");
    auto g = per_group_.find(group);
    if ((g == per_group_.end() ? 0 : g->second) >= limits_.per_client)
        return refuse(kRefuseAddressLimit, "too many sessions from this address");
    ++per_group_[group];
    established_.emplace(id, std::move(group));
    v.ok = true;
    return v;
}

void SessionAdmission::remove(const ConnId& id) {
    pending_.erase(id);
    auto it = established_.find(id);
    if (it == established_.end()) return;
    auto g = per_group_.find(it->second);
    if (g != per_group_.end() && --g->second == 0) per_group_.erase(g);
    established_.erase(it);
}

void SessionAdmission::prune(uint64_t now_ms) {
    // Kept for twice the skew: an offer stamped at the far edge of the window stays refusable.
    for (auto it = seen_.begin(); it != seen_.end();)
        it = it->second + 2 * limits_.clock_skew_ms < now_ms ? seen_.erase(it) : std::next(it);
}

size_t SessionAdmission::established_from(const Endpoint& client) const {
    auto it = per_group_.find(address_group(client));
    return it == per_group_.end() ? 0 : it->second;
}

}  // namespace pave
