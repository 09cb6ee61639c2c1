#include "relay/path_validator.h"

#include <algorithm>
#include <limits>

#include "crypto/random.h"

namespace pave {

namespace {

uint64_t sat_add(uint64_t a, uint64_t b) {
    return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max() : a + b;
}
uint64_t sat_mul3(uint64_t a) {
    return a > std::numeric_limits<uint64_t>::max() / 3 ? std::numeric_limits<uint64_t>::max() : a * 3;
}

}  // namespace

PathValidator::PathValidator(size_t max_paths, size_t candidate_credit_bytes)
    : max_paths_(std::max<size_t>(max_paths, 1)), credit_total_(candidate_credit_bytes), credit_left_(candidate_credit_bytes) {
    paths_.reserve(max_paths_);
}

PathValidator::Path* PathValidator::find(const Endpoint& ep) {
    for (auto& p : paths_)
        if (p.ep == ep) return &p;
    return nullptr;
}

const PathValidator::Path* PathValidator::find(const Endpoint& ep) const {
    for (const auto& p : paths_)
        if (p.ep == ep) return &p;
    return nullptr;
}

PathValidator::Path& PathValidator::find_or_add(const Endpoint& ep) {
    if (Path* p = find(ep)) return *p;
    if (paths_.size() >= max_paths_) {
        // Oldest unvalidated first; if every path is validated, the least recently validated.
        auto victim = paths_.end();
        for (auto it = paths_.begin(); it != paths_.end(); ++it) {
            if (it->validated) continue;
            if (victim == paths_.end() || it->created_seq < victim->created_seq) victim = it;
        }
        if (victim == paths_.end()) {
            victim = std::min_element(paths_.begin(), paths_.end(), [](const Path& a, const Path& b) {
                return a.validated_seq < b.validated_seq;
            });
        }
        paths_.erase(victim);
    }
    Path p;
    p.ep = ep;
    p.created_seq = ++seq_;
    paths_.push_back(p);
    return paths_.back();
}

void PathValidator::add_candidate(const Endpoint& ep) {
    if (!ep.valid()) return;
    find_or_add(ep).candidate = true;
}

void PathValidator::on_received(const Endpoint& from, size_t bytes) {
    if (!from.valid()) return;
    Path& p = find_or_add(from);
    p.received = sat_add(p.received, bytes);
}

size_t PathValidator::credit_needed(const Endpoint& to, size_t bytes) const {
    const Path* p = find(to);
    if (!p) return bytes;
    if (p->validated) return 0;
    const uint64_t earned = sat_add(sat_mul3(p->received), p->drawn);
    const uint64_t after = sat_add(p->sent, bytes);
    return after <= earned ? 0 : size_t(std::min<uint64_t>(after - earned, bytes));
}

PathValidator::Allowance PathValidator::allowance(const Endpoint& to, size_t bytes) const {
    const Path* p = find(to);
    if (p && p->validated) return Allowance::validated;
    if (p && p->sent > sat_add(sat_mul3(p->received), p->drawn)) {  // overspent: nothing more
        ++sends_refused_budget_;
        return Allowance::refused;
    }
    const size_t need = credit_needed(to, bytes);
    if (need == 0) return Allowance::earned;
    if (p && p->candidate && need <= credit_left_) return Allowance::credit;
    ++sends_refused_budget_;
    return Allowance::refused;
}

void PathValidator::on_sent(const Endpoint& to, size_t bytes) {
    if (!to.valid()) return;
    const size_t need = credit_needed(to, bytes);
    Path& p = find_or_add(to);
    if (!p.validated && need > 0) {
        const uint64_t take = std::min<uint64_t>(need, credit_left_);
        credit_left_ -= take;
        p.drawn = sat_add(p.drawn, take);
    }
    p.sent = sat_add(p.sent, bytes);
}

ByteArray<16> PathValidator::challenge(const Endpoint& to, time_point now) {
    ByteArray<16> c;
    random_bytes(c);
    if (!to.valid()) return c;  // never stored: cannot be acknowledged
    Path& p = find_or_add(to);
    Challenge& slot = p.challenges[p.next_challenge];
    p.next_challenge = (p.next_challenge + 1) % kChallengesPerPath;
    slot.value = c;
    slot.issued = now;
    slot.live = true;
    return c;
}

bool PathValidator::on_ack(const Endpoint& from, const ByteArray<16>& challenge, time_point now) {
    Path* p = find(from);
    if (p) {
        for (Challenge& c : p->challenges) {
            if (!c.live || !equal_ct(c.value, challenge)) continue;
            if (now - c.issued >= kChallengeLifetime) break;  // stale
            c.live = false;
            p->validated = true;
            p->validated_seq = ++seq_;
            return true;
        }
    }
    ++acks_rejected_;
    return false;
}

bool PathValidator::validated(const Endpoint& ep) const {
    const Path* p = find(ep);
    return p && p->validated;
}

std::optional<Endpoint> PathValidator::best() const {
    const Path* best = nullptr;
    for (const auto& p : paths_)
        if (p.validated && (!best || p.validated_seq > best->validated_seq)) best = &p;
    if (!best) return std::nullopt;
    return best->ep;
}

void PathValidator::forget_unvalidated() {
    std::erase_if(paths_, [](const Path& p) { return !p.validated; });
}

}  // namespace pave
