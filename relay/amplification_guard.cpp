#include "relay/amplification_guard.h"

#include <algorithm>

namespace pave {

const char* AmplificationGuard::to_string(Counter c) {
    switch (c) {
        case Counter::sent_unvalidated_bytes: return "sent_unvalidated_bytes";
        case Counter::held: return "held";
        case Counter::held_sent: return "held_sent";
        case Counter::held_dropped: return "held_dropped";
        case Counter::dropped: return "dropped";
        case Counter::challenges_sent: return "challenges_sent";
        case Counter::validated_cookie: return "validated_cookie";
        case Counter::validated_tid: return "validated_tid";
        case Counter::checks_invalid: return "checks_invalid";
        case Counter::evicted: return "evicted";
        case Counter::count_: break;
    }
    return "?";
}

AmplificationGuard::AmplificationGuard() : AmplificationGuard(Limits{}) {}

AmplificationGuard::AmplificationGuard(const Limits& limits, std::optional<ByteArray<32>> cookie_secret)
    : limits_(limits),
      jar_(cookie_secret ? CookieJar(*cookie_secret) : CookieJar()),
      first_contact_(limits.first_contact_rate, limits.first_contact_burst) {
    limits_.max_entries = std::max<size_t>(limits_.max_entries, 1);
}

AmplificationGuard::Key AmplificationGuard::key_of(const Endpoint& ep) { return ep.mapped_key(); }

uint64_t AmplificationGuard::seconds(time_point now) {
    return uint64_t(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()));
}

AmplificationGuard::Entry* AmplificationGuard::find(const Endpoint& ep) {
    auto it = table_.find(key_of(ep));
    return it == table_.end() ? nullptr : &it->second;
}

const AmplificationGuard::Entry* AmplificationGuard::find(const Endpoint& ep) const {
    auto it = table_.find(key_of(ep));
    return it == table_.end() ? nullptr : &it->second;
}

void AmplificationGuard::evict_one() {
    std::list<Key>& from = !unvalidated_lru_.empty() ? unvalidated_lru_ : validated_lru_;
    if (from.empty()) return;
    auto it = table_.find(from.front());
    if (it != table_.end()) {
        drop_held(it->second);
        table_.erase(it);
    }
    from.pop_front();
    bump(Counter::evicted);
}

AmplificationGuard::Entry& AmplificationGuard::entry(const Endpoint& ep, time_point now) {
    Key k = key_of(ep);
    auto it = table_.find(k);
    if (it != table_.end()) {
        touch(it->second, k, now);
        return it->second;
    }
    while (table_.size() >= limits_.max_entries) evict_one();
    Entry& e = table_[k];
    e.ep = ep;
    e.lru = unvalidated_lru_.insert(unvalidated_lru_.end(), k);
    return e;
}

void AmplificationGuard::touch(Entry& e, const Key& k, time_point now) {
    const bool valid = is_valid(e, now);
    std::list<Key>& from = e.in_validated_list ? validated_lru_ : unvalidated_lru_;
    std::list<Key>& to = valid ? validated_lru_ : unvalidated_lru_;
    to.splice(to.end(), from, e.lru);
    e.in_validated_list = valid;
    (void)k;
}

void AmplificationGuard::drop_held(Entry& e) {
    bump(Counter::held_dropped, e.held.size());
    held_total_ -= e.held_bytes;
    e.held.clear();
    e.held_bytes = 0;
}

std::optional<ByteArray<kAddressCheckSize>> AmplificationGuard::maybe_challenge(Entry& e, time_point now,
                                                                                bool first_contact) {
    if (e.last_challenge != time_point{} && now - e.last_challenge < limits_.check_interval) return std::nullopt;
    if (first_contact) {
        if (e.sent + kAddressCheckSize > limits_.first_contact_bytes || !first_contact_.take(now, kAddressCheckSize))
            return std::nullopt;
    } else if (!fits(e, kAddressCheckSize)) {
        return std::nullopt;
    }
    e.sent += kAddressCheckSize;
    e.last_challenge = now;
    bump(Counter::challenges_sent);
    bump(Counter::sent_unvalidated_bytes, kAddressCheckSize);
    AddressCheck m;
    m.type = AddressCheckType::challenge;
    m.cookie = jar_.make(e.ep, seconds(now));
    return encode_address_check(m);
}

std::optional<AmplificationGuard::Flush> AmplificationGuard::validate(Entry& e, const Key& k, time_point now,
                                                                      Counter how) {
    e.valid_until = now + kValidFor;
    touch(e, k, now);
    bump(how);
    if (e.held.empty()) return std::nullopt;
    Flush f;
    f.to = e.ep;
    for (auto& h : e.held) f.datagrams.push_back(std::move(h.data));
    bump(Counter::held_sent, e.held.size());
    held_total_ -= e.held_bytes;
    e.held.clear();
    e.held_bytes = 0;
    return f;
}

std::optional<ByteArray<kAddressCheckSize>> AmplificationGuard::on_received(const Endpoint& from, size_t bytes,
                                                                            time_point now, bool ask) {
    std::lock_guard lock(mu_);
    Entry& e = entry(from, now);
    e.received += bytes;
    if (!ask || is_valid(e, now)) return std::nullopt;
    return maybe_challenge(e, now, false);
}

AmplificationGuard::SendPlan AmplificationGuard::plan_send(const Endpoint& to, ByteView datagram, Traffic traffic,
                                                           time_point now) {
    std::lock_guard lock(mu_);
    SendPlan plan;
    Entry& e = entry(to, now);
    if (is_valid(e, now)) return plan;
    const size_t n = datagram.size();
    const bool first_contact = traffic == Traffic::request && e.received == 0;
    if (first_contact) {
        if (e.sent + n <= limits_.first_contact_bytes && first_contact_.take(now, double(n))) {
            e.sent += n;
            bump(Counter::sent_unvalidated_bytes, n);
            return plan;
        }
    } else if (fits(e, n)) {
        e.sent += n;
        bump(Counter::sent_unvalidated_bytes, n);
        return plan;
    }
    if (e.held_bytes + n <= limits_.held_bytes_per_address && held_total_ + n <= limits_.held_bytes_total) {
        e.held.push_back({Bytes(datagram.begin(), datagram.end()), now});
        e.held_bytes += n;
        held_total_ += n;
        plan.action = Action::held;
        bump(Counter::held);
    } else {
        plan.action = Action::dropped;
        bump(Counter::dropped);
    }
    plan.challenge = maybe_challenge(e, now, first_contact);
    return plan;
}

AmplificationGuard::CheckPlan AmplificationGuard::on_check(const Endpoint& from, const AddressCheck& m,
                                                           time_point now) {
    std::lock_guard lock(mu_);
    CheckPlan plan;
    const Key k = key_of(from);
    Entry& e = entry(from, now);
    const uint64_t s = seconds(now);
    switch (m.type) {
        case AddressCheckType::challenge: {
            // One answer of the same size per challenge received: never more than 1x.
            const bool valid = is_valid(e, now);
            if (!valid && !fits(e, kAddressCheckSize)) break;
            if (!valid) {
                e.sent += kAddressCheckSize;
                bump(Counter::sent_unvalidated_bytes, kAddressCheckSize);
            }
            AddressCheck r;
            r.type = AddressCheckType::response;
            r.cookie = jar_.make(from, s);
            r.echo = m.cookie;
            plan.answer = encode_address_check(r);
            break;
        }
        case AddressCheckType::response: {
            if (!jar_.verify(from, m.echo, s)) {
                bump(Counter::checks_invalid);
                break;
            }
            plan.flush = validate(e, k, now, Counter::validated_cookie);
            AddressCheck c;
            c.type = AddressCheckType::confirm;
            c.echo = m.cookie;
            plan.answer = encode_address_check(c);  // `from` is validated now
            break;
        }
        case AddressCheckType::confirm:
            if (!jar_.verify(from, m.echo, s)) {
                bump(Counter::checks_invalid);
                break;
            }
            plan.flush = validate(e, k, now, Counter::validated_cookie);
            break;
    }
    return plan;
}

void AmplificationGuard::on_request_tid(const Endpoint& to, uint32_t tid, time_point now) {
    std::lock_guard lock(mu_);
    Entry& e = entry(to, now);
    e.tids[e.next_tid] = tid;
    e.tid_at[e.next_tid] = now;
    e.next_tid = (e.next_tid + 1) % e.tids.size();
}

std::optional<AmplificationGuard::Flush> AmplificationGuard::on_reply_tid(const Endpoint& from, uint32_t tid,
                                                                          time_point now) {
    std::lock_guard lock(mu_);
    const Key k = key_of(from);
    auto it = table_.find(k);
    if (it == table_.end()) return std::nullopt;
    Entry& e = it->second;
    for (size_t i = 0; i < e.tids.size(); ++i) {
        if (e.tid_at[i] == time_point{} || e.tids[i] != tid || now - e.tid_at[i] > kTidWindow) continue;
        e.tid_at[i] = time_point{};  // each id proves one round trip
        return validate(e, k, now, Counter::validated_tid);
    }
    return std::nullopt;
}

void AmplificationGuard::expire(time_point now) {
    std::lock_guard lock(mu_);
    for (auto& [k, e] : table_) {
        while (!e.held.empty() && now - e.held.front().at >= limits_.hold_for) {
            e.held_bytes -= e.held.front().data.size();
            held_total_ -= e.held.front().data.size();
            e.held.pop_front();
            bump(Counter::held_dropped);
        }
    }
}

bool AmplificationGuard::validated(const Endpoint& ep, time_point now) const {
    std::lock_guard lock(mu_);
    const Entry* e = find(ep);
    return e && is_valid(*e, now);
}

uint64_t AmplificationGuard::count(Counter c) const {
    std::lock_guard lock(mu_);
    return counts_[size_t(c)];
}

size_t AmplificationGuard::entries() const {
    std::lock_guard lock(mu_);
    return table_.size();
}

size_t AmplificationGuard::held_bytes() const {
    std::lock_guard lock(mu_);
    return held_total_;
}

}  // namespace pave
