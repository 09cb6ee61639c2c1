#include "tests/sim/sim_dht.h"

#include <algorithm>

namespace pave::sim {

Duration SimDht::draw(std::chrono::milliseconds base) {
    Duration d = base;
    if (params_.jitter.count() > 0) d += std::chrono::microseconds(rng_.below(uint64_t(params_.jitter.count()) * 1000 + 1));
    return d;
}

void SimDht::put(const DhtKey& key, Bytes value) {
    ++puts_;
    if (on_put) on_put(key, value);
    if (rng_.chance(params_.put_loss)) {
        ++puts_lost_;
        return;
    }
    events_.after(draw(params_.put_delay), [this, key, v = std::move(value)]() mutable { store(key, std::move(v)); });
}

void SimDht::store(const DhtKey& key, Bytes value) {
    uint64_t id = next_value_id_++;
    values_[key].push_back({id, value});
    events_.after(params_.value_ttl, [this, key, id] { expire(key, id); });
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

SimDht::Token SimDht::listen(const DhtKey& key, Listener fn) {
    Token t = next_token_++;
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
