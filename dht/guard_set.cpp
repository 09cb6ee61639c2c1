#include "dht/guard_set.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "crypto/hex.h"
#include "dht/bucket_keys.h"
#include "relay/wire/endpoint_policy.h"
#include "crypto/random.h"

namespace pave {

Bytes diversity_prefix(const Endpoint& addr) {
    // Only public addresses say which network a relay is on; loopback and private ones (labs,
    // --lan-candidates) are the same for every relay on a LAN.
    if (classify_address(addr) != EndpointVerdict::ok) return {};
    Bytes ip = addr.canonical_ip();
    if (ip.size() == 4) return Bytes(ip.begin(), ip.begin() + 3);
    if (ip.size() == 16) return Bytes(ip.begin(), ip.begin() + 6);
    return {};
}

bool GuardSet::is_guard(const Ed25519Public& pub) const {
    return std::any_of(guards_.begin(), guards_.end(), [&](const Guard& g) { return g.node_pub == pub; });
}

bool GuardSet::refill(const std::vector<RelayInfo>& live, uint64_t now_s) {
    bool changed = false;
    size_t before = guards_.size();
    std::erase_if(guards_, [&](const Guard& g) { return now_s >= g.added_s + p_.lifetime_s; });
    if (guards_.size() != before) {
        replaced_ += before - guards_.size();
        changed = true;
    }
    if (guards_.size() >= p_.size) return changed;
    // Networks already holding a guard: where it served from, and the addresses its record names.
    std::set<Bytes> taken;
    auto networks_of = [](const RelayInfo& r) {
        std::set<Bytes> out;
        for (const auto& e : r.endpoints)
            if (Bytes p = diversity_prefix(e); !p.empty()) out.insert(p);
        return out;
    };
    for (const auto& g : guards_) {
        if (!g.prefix.empty()) taken.insert(g.prefix);
        for (const auto& r : live)
            if (r.node_pub == g.node_pub) taken.merge(networks_of(r));
    }
    std::vector<const RelayInfo*> pool;
    for (const auto& r : live)
        if (r.first_seen + p_.min_age_s <= now_s && !is_guard(r.node_pub)) pool.push_back(&r);
    while (guards_.size() < p_.size && !pool.empty()) {
        size_t i = size_t(random_below(pool.size()));
        const RelayInfo& r = *pool[i];
        pool[i] = pool.back();
        pool.pop_back();
        auto nets = networks_of(r);
        if (std::any_of(nets.begin(), nets.end(), [&](const Bytes& n) { return taken.count(n) > 0; })) continue;
        taken.merge(nets);
        Guard g;
        g.node_pub = r.node_pub;
        g.added_s = now_s;
        guards_.push_back(std::move(g));
        changed = true;
    }
    return changed;
}

bool GuardSet::on_served(const Ed25519Public& pub, const Endpoint& addr, uint64_t) {
    auto it = std::find_if(guards_.begin(), guards_.end(), [&](const Guard& g) { return g.node_pub == pub; });
    if (it == guards_.end()) return false;
    it->failures = 0;
    it->first_failure_s = 0;
    it->prefix = diversity_prefix(addr);
    if (it->prefix.empty()) return false;
    for (const auto& g : guards_)
        if (&g != &*it && g.prefix == it->prefix) {
            guards_.erase(it);  // one network, one guard: the one that served first stays
            ++replaced_;
            return true;
        }
    return false;
}

bool GuardSet::on_failed(const Ed25519Public& pub, uint64_t now_s) {
    auto it = std::find_if(guards_.begin(), guards_.end(), [&](const Guard& g) { return g.node_pub == pub; });
    if (it == guards_.end()) return false;
    if (it->failures == 0) it->first_failure_s = now_s;
    it->failures = std::min<uint32_t>(it->failures + 1, 1000);
    if (it->failures >= p_.fail_limit && now_s >= it->first_failure_s + p_.fail_span_s) {
        guards_.erase(it);
        ++replaced_;
        return true;
    }
    return false;
}

std::vector<unsigned> GuardSet::buckets() const {
    std::vector<unsigned> out;
    for (const auto& g : guards_) {
        unsigned b = relay_bucket_of(g.node_pub);
        if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
    }
    return out;
}

void GuardSet::restore(std::vector<Guard> g) {
    if (g.size() > p_.size) g.resize(p_.size);
    guards_ = std::move(g);
}

// ---- the state file

std::string encode_guard_state(const GuardState& s) {
    std::string out = "pave-guards 1\n";
    for (const auto& g : s.guards) {
        out += "guard " + to_hex(g.node_pub) + " " + std::to_string(g.added_s) + " " + std::to_string(g.failures) + " " +
               std::to_string(g.first_failure_s) + " " + (g.prefix.empty() ? std::string("-") : to_hex(g.prefix)) + "\n";
    }
    if (s.replica_seed) out += "replica-seed " + to_hex(*s.replica_seed) + "\n";
    size_t n = 0;
    for (const auto& [pub, t] : s.first_seen) {
        if (++n > kMaxSeenLines) break;
        out += "seen " + to_hex(pub) + " " + std::to_string(t) + "\n";
    }
    return out;
}

namespace {

std::vector<std::string_view> fields_of(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size() && out.size() <= 8) {
        while (i < line.size() && line[i] == ' ') ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

bool number(std::string_view s, uint64_t max, uint64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && out <= max;
}

bool node_key(std::string_view s, Ed25519Public& out) {
    if (s.size() != 64) return false;
    auto b = from_hex(s);
    if (!b || b->size() != out.size()) return false;
    std::copy(b->begin(), b->end(), out.begin());
    return true;
}

}  // namespace

std::optional<GuardState> decode_guard_state(std::string_view text, std::string* why) {
    auto refuse = [&](size_t line_no, const std::string& reason) -> std::optional<GuardState> {
        if (why) *why = line_no ? "line " + std::to_string(line_no) + ": " + reason : reason;
        return std::nullopt;
    };
    if (text.size() > kMaxGuardStateBytes) return refuse(0, "file too large");
    GuardState st;
    size_t pos = 0, line_no = 0;
    bool header = false;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (line.size() > 200) return refuse(line_no, "line too long");
        auto f = fields_of(line);
        if (f.empty()) continue;
        if (!header) {
            if (f.size() != 2 || f[0] != "pave-guards" || f[1] != "1") return refuse(line_no, "not a guard state file");
            header = true;
            continue;
        }
        if (f[0] == "guard") {
            Guard g;
            uint64_t failures = 0;
            if (f.size() != 6) return refuse(line_no, "a guard line has 6 fields");
            if (!node_key(f[1], g.node_pub)) return refuse(line_no, "bad node key");
            if (!number(f[2], kMaxPresenceTime, g.added_s)) return refuse(line_no, "bad time added");
            if (!number(f[3], 1000, failures)) return refuse(line_no, "bad failure count");
            g.failures = uint32_t(failures);
            if (!number(f[4], kMaxPresenceTime, g.first_failure_s)) return refuse(line_no, "bad first failure time");
            if (f[5] != "-") {
                auto p = from_hex(f[5]);
                if (!p || (p->size() != 3 && p->size() != 6)) return refuse(line_no, "bad address prefix");
                g.prefix = *p;
            }
            if (st.guards.size() >= kMaxGuardLines) return refuse(line_no, "too many guards");
            for (const auto& other : st.guards)
                if (other.node_pub == g.node_pub) return refuse(line_no, "a guard twice");
            st.guards.push_back(std::move(g));
        } else if (f[0] == "seen") {
            Ed25519Public pub{};
            uint64_t t = 0;
            if (f.size() != 3) return refuse(line_no, "a seen line has 3 fields");
            if (!node_key(f[1], pub)) return refuse(line_no, "bad node key");
            if (!number(f[2], kMaxPresenceTime, t)) return refuse(line_no, "bad time");
            if (st.first_seen.size() >= kMaxSeenLines) return refuse(line_no, "too many relays");
            auto [it, fresh] = st.first_seen.emplace(pub, t);
            if (!fresh) it->second = std::min(it->second, t);
        } else if (f[0] == "replica-seed") {
            if (f.size() != 2 || f[1].size() != 32) return refuse(line_no, "bad replica seed");
            auto b = from_hex(f[1]);
            if (!b || b->size() != 16) return refuse(line_no, "bad replica seed");
            if (st.replica_seed) return refuse(line_no, "a replica seed twice");
            ByteArray<16> seed{};
            std::copy(b->begin(), b->end(), seed.begin());
            st.replica_seed = seed;
        } else {
            return refuse(line_no, "unknown record");
        }
    }
    if (!header) return refuse(0, "empty file");
    return st;
}

}  // namespace pave
