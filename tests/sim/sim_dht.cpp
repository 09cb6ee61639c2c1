#include "tests/sim/sim_dht.h"

#include <algorithm>

namespace pave::sim {

Duration SimDht::draw(std::chrono::milliseconds base) {
    Duration d = base;
    if (params_.jitter.count() > 0) d += std::chrono::microseconds(rng_.below(uint64_t(params_.jitter.count()) * 1000 + 1));
    return d;
}

void SimDht::put(const DhtKey& key, Bytes value, const std::string& who) {
    ++puts_;
    if (on_request && !who.empty()) on_request(Op::put, key, who);
    if (on_put) on_put(key, value);
    if (rng_.chance(params_.put_loss)) {
        ++puts_lost_;
        return;
    }
    events_.after(draw(params_.put_delay), [this, key, v = std::move(value)]() mutable { store(key, std::move(v)); });
}

void SimDht::store(const DhtKey& key, Bytes value, std::optional<uint64_t> announced) {
    uint64_t id = announced.value_or(next_value_id_++);
    if (announced && !announced_.count(id)) return;  // withdrawn before it was stored
    values_[key].push_back({id, value});
    if (!announced) events_.after(params_.value_ttl, [this, key, id] { expire(key, id); });
    for (const auto& [token, l] : listeners_)
        if (l.key == key) deliver(token, key, {value}, false);
}

void SimDht::expire(const DhtKey& key, uint64_t id) {
    auto it = values_.find(key);
    if (it == values_.end()) return;
    auto& vs = it->second;
    auto v = std::find_if(vs.begin(), vs.end(), [id](const Stored& s) { return s.id == id; });
    if (v == vs.end()) return;
    Bytes value = std::move(v->value);
    vs.erase(v);
    if (vs.empty()) values_.erase(it);
    ++expired_;
    for (const auto& [token, l] : listeners_)
        if (l.key == key) deliver(token, key, {value}, true);
}

void SimDht::deliver(Token token, const DhtKey& key, std::vector<Bytes> values, bool expired) {
    if (rng_.chance(params_.delivery_loss)) {
        ++deliveries_lost_;
        return;
    }
    events_.after(draw(params_.delivery_delay), [this, token, key, vs = std::move(values), expired] {
        auto it = listeners_.find(token);
        if (it == listeners_.end()) return;  // cancelled meanwhile
        ++deliveries_;
        Listener fn = it->second.fn;  // the callback may cancel its own listen
        fn(token, key, vs, expired);
    });
}

uint64_t SimDht::announce(const DhtKey& key, Bytes value, std::function<void(bool ok)> done, const std::string& who) {
    ++puts_;
    if (on_request && !who.empty()) on_request(Op::announce, key, who);
    if (on_put) on_put(key, value);
    uint64_t id = next_value_id_++;
    bool lost = !up || rng_.chance(params_.put_loss);
    if (lost) ++puts_lost_;
    else announced_.insert(id);
    events_.after(draw(params_.put_delay), [this, key, id, lost, v = std::move(value), done = std::move(done)]() mutable {
        if (!lost) store(key, std::move(v), id);
        if (done) done(!lost);
    });
    return id;
}

void SimDht::withdraw(const DhtKey& key, uint64_t id) {
    if (!announced_.erase(id)) return;
    events_.after(params_.value_ttl, [this, key, id] { expire(key, id); });
}

SimDht::Token SimDht::get(const DhtKey& key, const std::string& reader, Listener fn, std::function<void(Token)> done) {
    Token t = next_token_++;
    ++reads_;
    readers_[key].insert(reader);
    if (on_request && !reader.empty()) on_request(Op::get, key, reader);
    std::vector<Bytes> vs;
    if (auto it = values_.find(key); it != values_.end())
        for (const auto& s : it->second) vs.push_back(s.value);
    events_.after(draw(params_.delivery_delay), [t, key, vs = std::move(vs), fn = std::move(fn), done = std::move(done)] {
        if (!vs.empty()) fn(t, key, vs, false);
        if (done) done(t);
    });
    return t;
}

const std::set<std::string>& SimDht::readers(const DhtKey& key) const {
    static const std::set<std::string> none;
    auto it = readers_.find(key);
    return it == readers_.end() ? none : it->second;
}

SimDht::Token SimDht::listen(const DhtKey& key, Listener fn, const std::string& reader) {
    Token t = next_token_++;
    if (!reader.empty()) readers_[key].insert(reader);
    if (on_request && !reader.empty()) on_request(Op::listen, key, reader);
    listeners_.emplace(t, Listening{key, std::move(fn)});
    auto it = values_.find(key);
    if (it != values_.end())
        for (const auto& s : it->second) deliver(t, key, {s.value}, false);  // each from its own storer
    return t;
}

void SimDht::cancel(Token token) { listeners_.erase(token); }

size_t SimDht::values_at(const DhtKey& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? 0 : it->second.size();
}

}  // namespace pave::sim
