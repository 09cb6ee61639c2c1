#include "relay/engine/relay_engine.h"

#include <algorithm>
#include <set>

#include "crypto/hex.h"
#include "crypto/session_keys.h"
#include "dht/presence_record.h"
#include "relay/wire/demux.h"

namespace pave {

namespace {
constexpr auto kHostAddressRefresh = std::chrono::seconds(10);
}

// One relayed session: the control session (punching, validation, keepalives), the gate, and
// whether the socket towards the VPN is open.
struct RelayEngine::Entry {
    Entry(const SessionKeys& keys, const std::vector<Endpoint>& candidates, const Endpoint& vpn_, const GateLimits& limits,
          DestinationLimiter& destinations, const SessionTimers& timers, Clock::time_point now, Session::Send send)
        : vpn(vpn_),
          session(SessionRole::relay, keys, candidates, now, timers, std::move(send)),
          gate(limits, destinations, vpn_, now) {}

    Clock::time_point next_deadline() const {
        auto d = std::min(session.next_deadline(), gate.deadline());
        return draining ? std::min(d, drain_until) : d;
    }
    bool finished(Clock::time_point now) const {
        if (draining && now < drain_until) return false;
        auto st = session.state();
        return st == SessionState::closed || st == SessionState::failed || gate.closed() || gate.expired(now);
    }
    void close(Clock::time_point now) {
        session.close(0, now);
        gate.close();
    }

    // Carries WireGuard while the relay stops (after its CLOSE) until drain_until.
    bool carries(Clock::time_point now) const {
        return session.state() == SessionState::established || (draining && now < drain_until);
    }

    Endpoint vpn;
    Session session;
    Gate gate;
    bool vpn_open = false;
    bool draining = false;
    Clock::time_point drain_until{};
};

const char* RelayEngine::to_string(Intake i) {
    switch (i) {
        case Intake::wrong_size: return "wrong_size";
        case Intake::queue_full: return "queue_full";
        case Intake::rate_deferred: return "rate_deferred";
        case Intake::not_for_us: return "not_for_us";
        case Intake::stale: return "stale";
        case Intake::replayed: return "replayed";
        case Intake::refused: return "refused";
        case Intake::accepted: return "accepted";
        case Intake::answer_failed: return "answer_failed";
        case Intake::evicted: return "evicted";
        case Intake::refused_at_validation: return "refused_at_validation";
        case Intake::count_: break;
    }
    return "?";
}

RelayEngine::RelayEngine(RelayEngineHost& host, const Ed25519Key& key, const RelayEngineConfig& cfg,
                         std::vector<Endpoint> bound)
    : host_(host),
      key_(key),
      cfg_(cfg),
      bound_(std::move(bound)),
      ttl_s_(std::max<uint32_t>(cfg.presence_ttl_s, 3)),
      period_secs_(std::max<uint32_t>(cfg.presence_ttl_s, 10)),
      bucket_(relay_bucket_of(key.public_key())),
      decrypt_budget_(cfg.offers_per_second, cfg.offers_per_second / 2),
      admission_([&cfg] {
          AdmissionLimits l;
          l.capacity = cfg.capacity;
          l.pending = cfg.pending_sessions;
          l.per_client = cfg.per_client_ip;
          l.allow_private_endpoints = cfg.allow_private_endpoints;
          l.allow_private_candidates = cfg.allow_private_endpoints || cfg.lan_candidates;
          return l;
      }()) {}

RelayEngine::~RelayEngine() = default;

void RelayEngine::emit(EngineEvent::Level level, std::string message) {
    host_.event(EngineEvent{level, "relay", std::move(message)});
}

bool RelayEngine::drain(const EngineTime& now, Clock::duration grace) {
    bool any = false;
    for (auto& [id, e] : sessions_) {
        if (e->session.state() != SessionState::established || !e->vpn_open) continue;
        e->session.close(0, now.mono);  // the CLOSE frame: the client moves on at once
        e->draining = true;
        e->drain_until = now.mono + grace;
        any = true;
    }
    return any;
}

void RelayEngine::shutdown(const EngineTime& now) {
    for (auto& [id, e] : sessions_) {
        e->close(now.mono);  // clients learn at once (CLOSE frame)
        if (e->vpn_open) host_.vpn_close(id);
    }
    sessions_.clear();
    by_peer_.clear();
    if (cfg_.withdraw_on_shutdown) withdraw_presence();
}

// ---- time

RelayEngine::Clock::time_point RelayEngine::next_deadline() const {
    auto next = next_housekeeping_.value_or(Clock::time_point::min());
    if (drain_at_) next = std::min(next, *drain_at_);
    for (const auto& [id, e] : sessions_) next = std::min(next, e->next_deadline());
    return next;
}

void RelayEngine::on_dht_joined(const EngineTime& now) {
    next_housekeeping_.reset();
    on_tick(now);
}

RelayEngine::Clock::time_point RelayEngine::on_tick(const EngineTime& now) {
    if (!first_tick_) first_tick_ = now.mono;
    if (!next_housekeeping_ || now.mono >= *next_housekeeping_) {
        next_housekeeping_ = now.mono + kHousekeeping;
        housekeeping(now);
    }
    if (drain_at_ && now.mono >= *drain_at_) {
        drain_at_.reset();
        drain_offers(now);
    }
    run_sessions(now.mono);
    reap(now.mono);
    return next_deadline();
}

void RelayEngine::housekeeping(const EngineTime& now) {
    const uint64_t now_s = now.unix_s();
    uint64_t cur = period_of(now_s);
    if (cur != rotated_period_) {
        rotate(now_s);
        rotated_period_ = cur;
    }
    if (inbox_listens_due(now)) listen_inboxes(now_s);
    // Also when the public address was learnt or changed: clients send their hellos there.
    if (announce_allowed(now) &&
        (presence_due(now) || (host_.dht_connected() && record_endpoints() != published_endpoints_)))
        publish(now);
    for (auto it = answers_.begin(); it != answers_.end();)
        it = it->second.until <= now.mono ? answers_.erase(it) : std::next(it);
    admission_.prune(now.unix_ms);
    destinations_.prune(now.mono);
    probe_limiter_.prune(now.mono);
    refresh_host_addresses(now.mono);
}

void RelayEngine::run_sessions(Clock::time_point now) {
    for (auto& [id, e] : sessions_)
        if (e->next_deadline() <= now) {
            e->session.on_timer(now);
            if (e->gate.expired(now)) e->gate.close();
            update_admission(id, *e, now);
        }
}

void RelayEngine::reap(Clock::time_point now) {
    for (auto it = sessions_.begin(); it != sessions_.end();)
        it = it->second->finished(now) ? end_session(it, now) : std::next(it);
}

RelayEngine::SessionMap::iterator RelayEngine::end_session(SessionMap::iterator it, Clock::time_point now) {
    Entry& e = *it->second;
    e.close(now);  // tells the client (CLOSE frame) if it was still established
    const Session& ss = e.session;
    emit(EngineEvent::Level::info, "session " + to_hex(it->first) + " ended (" + pave::to_string(ss.state()) +
                                       (ss.failure().empty() ? "" : ": ") + ss.failure() + ")");
    std::erase_if(by_peer_, [&](const auto& p) { return p.second == &e; });
    admission_.remove(it->first);  // a failed punch returns its slot at once
    unsolicited_ended_ += ss.unsolicited_bytes();
    if (e.vpn_open) host_.vpn_close(it->first);
    return sessions_.erase(it);
}

// ---- presence and inbox keys

void RelayEngine::rotate(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    for (uint64_t p : {cur - 1, cur, cur + 1})
        if (!inbox_keys_.count(p)) inbox_keys_.emplace(p, X25519Key::generate());
    // Keys of periods that are over are erased (their private halves zeroed on destruction).
    for (auto it = inbox_keys_.begin(); it != inbox_keys_.end();)
        it = (it->first + 1 < cur || it->first > cur + 1) ? inbox_keys_.erase(it) : std::next(it);
}

bool RelayEngine::announce_allowed(const EngineTime& now) const {
    return first_tick_ && now.mono >= *first_tick_ + std::chrono::seconds(cfg_.announce_delay_s);
}

bool RelayEngine::presence_due(const EngineTime& now) const {
    // Before bootstrap a put reaches nobody, or only the few nodes known at cold start, which are
    // not the closest once the routing table fills: wait for the DHT.
    if (!host_.dht_connected()) return false;
    const uint64_t now_s = now.unix_s();
    if (period_of(now_s) != published_period_) return true;
    if (now_s >= last_publish_ + std::max<uint32_t>(ttl_s_ / 3, 1)) return true;  // three chances per TTL
    return announce_retry_at_ && now.mono >= *announce_retry_at_;
}

std::vector<Endpoint> RelayEngine::record_endpoints() {
    std::vector<Endpoint> out = host_.own_candidates();
    if (out.size() > kPresenceMaxEndpoints) out.resize(kPresenceMaxEndpoints);
    return out;
}

void RelayEngine::publish(const EngineTime& now) {
    const uint64_t now_s = now.unix_s();
    uint64_t cur = period_of(now_s);
    PresenceRecord r;
    r.inbox_pub = inbox_keys_.at(cur).pub;
    r.period_secs = period_secs_;
    r.period = cur;
    r.capacity = cfg_.capacity;
    r.expires = now_s + ttl_s_;
    r.endpoints = record_endpoints();
    published_endpoints_ = r.endpoints;
    named_until_[cur] = std::max(named_until_[cur], r.expires);
    Bytes value = encode_presence(r, key_);
    // The new record replaces the old one on every replica key: the old announcement is
    // withdrawn (OpenDHT would otherwise keep re-sending it), the new one made.
    for (unsigned replica = 0; replica < kBucketReplicas; ++replica) {
        DhtKey key = relay_directory_key(bucket_, replica);
        if (auto it = announced_.find(key); it != announced_.end()) host_.dht_withdraw(key, it->second);
        announced_[key] = host_.dht_announce(key, value);
    }
    announce_retry_at_.reset();
    if (!first_announce_) first_announce_ = now.mono;
    last_publish_ = now_s;
    published_period_ = cur;
    ++publications_;
    emit(EngineEvent::Level::debug, "presence announced in bucket " + std::to_string(bucket_) + " (period " +
                                        std::to_string(cur) + ", expires in " + std::to_string(ttl_s_) + " s)");
}

void RelayEngine::on_announce_done(const EngineTime& now, const DhtKey& key, uint64_t id, bool ok) {
    auto it = announced_.find(key);
    if (it == announced_.end() || it->second != id) return;  // replaced or withdrawn since
    if (ok) {
        announce_backoff_ = kAnnounceBackoffMin;
        if (!presence_stored_) {
            presence_stored_ = true;
            if (inbox_listens_due(now)) listen_inboxes(now.unix_s());  // now, not at the next housekeeping
        }
        return;
    }
    ++announces_failed_;
    if (announce_retry_at_) return;  // another replica's failure already scheduled the retry
    announce_retry_at_ = now.mono + announce_backoff_;
    emit(EngineEvent::Level::debug, "presence announcement reached no storer; again in " +
                                        std::to_string(announce_backoff_.count()) + " s");
    announce_backoff_ = std::min<std::chrono::seconds>(announce_backoff_ * 2, kAnnounceBackoffMax);
}

void RelayEngine::withdraw_presence() {
    for (const auto& [key, id] : announced_) host_.dht_withdraw(key, id);
    announced_.clear();
}

bool RelayEngine::inbox_listens_due(const EngineTime& now) const {
    if (!host_.dht_connected()) return false;
    return presence_stored_ || (first_announce_ && now.mono >= *first_announce_ + kInboxFallback);
}

void RelayEngine::listen_inboxes(uint64_t now_s) {
    const uint64_t cur = period_of(now_s);
    std::erase_if(named_until_, [&](const auto& n) { return n.first + 1 < cur || n.second <= now_s; });
    std::set<uint64_t> wanted{cur};
    if (named_until_.count(cur - 1)) wanted.insert(cur - 1);  // a record naming it is still live
    const uint64_t lead = std::min<uint64_t>(kNextPeriodLead, period_secs_ / 4);
    if (now_s + lead >= (cur + 1) * period_secs_) wanted.insert(cur + 1);
    for (auto it = inbox_listens_.begin(); it != inbox_listens_.end();) {
        if (!wanted.count(it->first.first)) {
            host_.dht_cancel_listen(inbox_shard_key(it->first.second, period_secs_, it->first.first), it->second);
            it = inbox_listens_.erase(it);
        } else {
            ++it;
        }
    }
    for (uint64_t p : wanted)
        for (unsigned s = 0; s < kInboxShards; ++s)
            if (!inbox_listens_.count({p, s}))
                inbox_listens_[{p, s}] = host_.dht_listen(inbox_shard_key(s, period_secs_, p));
}

// ---- rendezvous intake

void RelayEngine::on_dht_values(const EngineTime& now, const DhtKey& key, DhtListenToken token, std::vector<Bytes> values,
                                bool expired) {
    if (expired) return;
    std::optional<uint64_t> period;
    for (const auto& [ps, t] : inbox_listens_)
        if (t == token && inbox_shard_key(ps.second, period_secs_, ps.first) == key) period = ps.first;
    for (auto& v : values) {
        if (v.size() != kRendezvousValueSize) {
            ++intake_[size_t(Intake::wrong_size)];
            continue;
        }
        if (!period) {  // a listen already cancelled: its period's key is gone
            ++intake_[size_t(Intake::not_for_us)];
            continue;
        }
        enqueue(now, std::move(v), *period);
    }
}

void RelayEngine::enqueue(const EngineTime& now, Bytes value, uint64_t period) {
    if (offers_.size() >= cfg_.offer_queue) {
        ++intake_[size_t(Intake::queue_full)];
        return;
    }
    offers_.push_back({std::move(value), period});
    drain_offers(now);
}

void RelayEngine::drain_offers(const EngineTime& now) {
    uint64_t t0 = host_.thread_cpu_ns();
    while (!offers_.empty() && decrypt_budget_.take(now.mono)) {
        QueuedOffer q = std::move(offers_.front());
        offers_.pop_front();
        ++intake_[size_t(handle_offer(now, q))];
    }
    decrypt_cpu_ns_ += host_.thread_cpu_ns() - t0;
    if (!offers_.empty() && !drain_at_) {
        ++intake_[size_t(Intake::rate_deferred)];
        drain_at_ = now.mono + kDrainRetry;
    }
}

void RelayEngine::refresh_host_addresses(Clock::time_point now) {
    if (host_cache_at_ && now - *host_cache_at_ < kHostAddressRefresh) return;
    host_cache_ = host_.host_addresses();
    host_cache_at_ = now;
}

RelayEngine::Intake RelayEngine::handle_offer(const EngineTime& now, const QueuedOffer& q) {
    auto it = inbox_keys_.find(q.period);
    if (it == inbox_keys_.end()) return Intake::not_for_us;
    auto opened = open_offer(q.value, it->second, key_.public_key(), q.period);
    if (!opened) return Intake::not_for_us;
    const Offer& offer = opened->offer;

    // Own addresses: the bound sockets, every interface address of the host, and the public
    // (reflexive) and host candidates as of now. Own sockets: the bound ones, a wildcard one
    // on each host address.
    refresh_host_addresses(now.mono);
    std::vector<Endpoint> own = bound_, own_bound;
    const std::vector<Endpoint> mine = host_.own_candidates();
    own.insert(own.end(), host_cache_.begin(), host_cache_.end());
    own.insert(own.end(), mine.begin(), mine.end());
    for (const auto& b : bound_) {
        own_bound.push_back(b);
        for (Endpoint h : host_cache_)
            if (h.family() == b.family()) {
                h.set_port(b.port());
                own_bound.push_back(h);
            }
    }
    own_bound.insert(own_bound.end(), mine.begin(), mine.end());

    auto d = admission_.check_offer(offer, now.unix_ms, own, own_bound);
    Answer a;
    a.session_id = offer.session_id;
    a.timestamp_ms = rendezvous_timestamp_now(now.unix_ms);
    auto refuse = [&](uint8_t code, std::string why) {
        a.accepted = false;
        a.refuse_code = code;
        a.refuse_reason = std::move(why);
        answer(now, *opened, a);
        // No punch follows a refusal, so a relay behind a NAT would never let the client's
        // hellos in: one small opener goes to each candidate the policy allows, like a punch
        // probe (outside the port's guard, under the per-destination probe budget); the
        // client's next hello then fetches the refusal through the guard.
        for (const auto& c : d.reach.empty() ? d.candidates : d.reach)
            if (probe_limiter_.take(c, kRendezvousOpenerSize, now.mono)) {
                host_.send(c, make_rendezvous_opener());
                ++refusal_openers_sent_;
            }
        emit(EngineEvent::Level::info, "rendezvous refused: " + a.refuse_reason);
        return Intake::refused;
    };
    switch (d.verdict) {
        case SessionAdmission::Verdict::stale: return Intake::stale;
        case SessionAdmission::Verdict::replayed: return Intake::replayed;
        case SessionAdmission::Verdict::seen_full: return Intake::queue_full;  // bounded: refuse rather than forget
        case SessionAdmission::Verdict::refused: return refuse(d.refuse_code, d.reason);
        case SessionAdmission::Verdict::accepted: break;
    }
    if (d.candidates_refused)
        emit(EngineEvent::Level::debug,
             "rendezvous: " + std::to_string(d.candidates_refused) + " candidate(s) refused by the endpoint policy");

    // Without a public address (not learned yet) and with LAN candidates off, nothing to offer.
    if (mine.empty()) return refuse(kRefuseInternal, "relay does not know its public address yet");

    X25519Key eph = X25519Key::generate();
    auto ee = x25519_shared(eph.priv, offer.client_share);
    if (!ee) return Intake::not_for_us;  // low-order share: not a genuine client
    auto keys = derive_session_keys(opened->answer_key_material, *ee);
    if (!keys) return Intake::not_for_us;
    if (sessions_.count(keys->conn_id)) return Intake::replayed;

    auto slot = admission_.open(keys->conn_id);
    if (!slot.ok) return refuse(kRefuseCapacity, "relay busy: too many sessions being set up");
    if (slot.evicted) {
        auto ev = sessions_.find(*slot.evicted);
        if (ev != sessions_.end()) {
            emit(EngineEvent::Level::debug,
                 "session " + to_hex(ev->first) + " evicted while punching: its slot went to a newer rendezvous");
            end_session(ev, now.mono);  // at once: the table never holds more than capacity + pending
        }
        ++intake_[size_t(Intake::evicted)];
    }
    // No socket towards the VPN yet: it is opened once the client's address is validated.
    auto e = std::make_unique<Entry>(*keys, d.candidates, offer.vpn, cfg_.gate, destinations_, cfg_.timers, now.mono,
                                     [this](const Endpoint& to, ByteView data) { host_.send(to, data); });
    e->session.set_probe_limiter(&probe_limiter_);
    a.accepted = true;
    a.relay_share = eph.pub;
    a.candidates = mine;
    answer(now, *opened, a);
    emit(EngineEvent::Level::info, "rendezvous accepted: session " + to_hex(keys->conn_id) + " towards VPN " +
                                       offer.vpn.to_string() + " (" + std::to_string(d.candidates.size()) +
                                       " candidate(s))");
    sessions_[keys->conn_id] = std::move(e);
    return Intake::accepted;
}

void RelayEngine::answer(const EngineTime& now, const OpenedOffer& o, const Answer& a) {
    Bytes v = seal_answer(a, o.offer.client_share, o.answer_key_material);
    const HelloId id = rendezvous_hello_id(o.answer_key_material);
    Bytes frame = v.empty() ? Bytes{} : make_rendezvous_answer(id, v);
    if (frame.empty()) {
        ++intake_[size_t(Intake::answer_failed)];
        return;
    }
    // Bounded: the oldest held answer gives way (its client gets no answer and asks another).
    if (answers_.size() >= cfg_.offer_queue) {
        auto oldest = std::min_element(answers_.begin(), answers_.end(),
                                       [](const auto& x, const auto& y) { return x.second.until < y.second.until; });
        answers_.erase(oldest);
    }
    answers_[id] = HeldAnswer{std::move(frame), now.mono + kAnswerHold, 0};
}

void RelayEngine::on_hello(const EngineTime& now, const Endpoint& from, const RendezvousFrame& f) {
    auto it = answers_.find(f.id);
    if (f.kind != RendezvousFrame::Kind::hello || it == answers_.end() || it->second.until <= now.mono ||
        it->second.sends >= kAnswerSends) {
        ++hellos_unmatched_;
        emit(EngineEvent::Level::debug, "hello matched no held answer");
        return;
    }
    // One answer per hello, to the hello's source, through the port's amplification guard: the
    // answer frame is smaller than 3x the hello that asked for it.
    ++it->second.sends;
    const bool sent = host_.send_reply(from, it->second.frame);
    if (sent) ++answers_sent_;
    emit(EngineEvent::Level::debug, std::string("answer ") + (sent ? "sent" : "held by the amplification guard") +
                                        " (hello " + std::to_string(it->second.sends) + " for its offer)");
}

// After a session was fed: tell the admission what it heard and validated.
void RelayEngine::update_admission(const ConnId& id, Entry& e, Clock::time_point now) {
    const Session& ss = e.session;
    if (!admission_.is_pending(id)) return;
    if (ss.heard()) admission_.heard(id);
    if (ss.state() != SessionState::established || !ss.peer()) return;
    auto v = admission_.validated(id, *ss.peer());
    if (v.ok) {
        if (std::string err = host_.vpn_open(id, e.vpn, cfg_.fwmark); !err.empty()) {
            emit(EngineEvent::Level::warn, "session " + to_hex(id) + " closed: " + err);
            e.session.close(kRefuseInternal, now);
        } else {
            e.vpn_open = true;
        }
        return;
    }
    // The newcomer is refused, never an older session: CLOSE carries the refusal code.
    ++intake_[size_t(Intake::refused_at_validation)];
    emit(EngineEvent::Level::info, "session " + to_hex(id) + " refused after validation: " + v.reason);
    e.session.close(v.refuse_code, now);
}

// ---- the shared port

bool RelayEngine::on_datagram(const EngineTime& now, const Endpoint& from, ByteView data) {
    switch (classify(data)) {
        case PacketKind::control: {
            auto id = peek_conn_id(data);
            if (!id) return false;
            auto it = sessions_.find(*id);
            if (it == sessions_.end()) return false;
            on_control(now, it->first, *it->second, data, from);
            // Refused at validation: its slot is gone, so it goes too (the table stays within
            // capacity + pending).
            if (it->second->finished(now.mono) && !admission_.is_pending(it->first) &&
                !admission_.is_established(it->first))
                end_session(it, now.mono);
            return true;
        }
        case PacketKind::wireguard: return on_wireguard(now, from, data);
        case PacketKind::stun: on_stun(now, from, data); return true;
        case PacketKind::rendezvous:
            if (auto f = parse_rendezvous_frame(data)) on_hello(now, from, *f);
            return true;
        case PacketKind::dht:
        case PacketKind::address_check:
        case PacketKind::unknown: break;
    }
    return false;
}

void RelayEngine::on_control(const EngineTime& now, const ConnId& id, Entry& e, ByteView wire, const Endpoint& from) {
    const uint64_t heard_before = e.session.frames_in();
    e.session.on_control(wire, from, now.mono);
    if (e.session.frames_in() != heard_before) {
        admission_.heard(id);
        // A standby session: held while the client keeps its control session alive.
        if (e.session.state() == SessionState::established && e.vpn_open) e.gate.keep_locked(now.mono);
    }
    update_admission(id, e, now.mono);
    // The client moves a live WireGuard keypair here (its previous relay is gone): the gate
    // carries it under the migration budget until the VPN answers on it.
    if (auto k = e.session.take_keypair(); k && e.vpn_open) {
        const Gate::Claim c = e.gate.claim_keypair(k->client_index, k->vpn_index, now.mono);
        if (c == Gate::Claim::accepted) ++claims_accepted_;
        else if (c != Gate::Claim::unlocked) ++claims_refused_;
    }
}

bool RelayEngine::on_wireguard(const EngineTime& now, const Endpoint& from, ByteView pkt) {
    // WireGuard is accepted only from a session's validated, bound client address.
    auto accepts = [&](Entry* e) {
        const auto& peer = e->session.peer();
        return peer && *peer == from && e->carries(now.mono);
    };
    auto it = by_peer_.find(from);
    Entry* e = it != by_peer_.end() && accepts(it->second) ? it->second : nullptr;
    if (!e) {  // first packet from this address, or the session re-bound: look it up again
        for (auto& [id, cand] : sessions_)
            if (accepts(cand.get())) e = cand.get();
        if (!e) return false;
        if (by_peer_.size() >= 4 * size_t(cfg_.capacity)) by_peer_.clear();  // stale entries of re-bound peers
        by_peer_[from] = e;
    }
    if (e->gate.from_client(pkt, now.mono) != Gate::Verdict::forward) return true;
    e->session.on_data_from_peer(now.mono);
    if (e->vpn_open) host_.vpn_send(e->session.conn_id(), pkt);
    return true;
}

void RelayEngine::on_stun(const EngineTime& now, const Endpoint& from, ByteView data) {
    if (auto out = stun_.answer(data, from, now.mono)) stun_.sent(host_.send_reply(from, *out));
}

// ---- the sockets towards the VPN

void RelayEngine::on_vpn_datagram(const EngineTime& now, const ConnId& id, ByteView data) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    Entry& e = *it->second;
    const bool was_closed = e.gate.closed();
    // A connected socket only receives from the VPN endpoint itself.
    if (e.carries(now.mono) && e.session.peer() && e.gate.from_endpoint(data, now.mono) == Gate::Verdict::forward)
        host_.send(*e.session.peer(), data);
    after_vpn_input(id, e, was_closed, "a datagram that is not WireGuard");
}

void RelayEngine::on_vpn_unreachable(const EngineTime& now, const ConnId& id) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    Entry& e = *it->second;
    const bool was_closed = e.gate.closed();
    e.gate.endpoint_refused(now.mono);
    after_vpn_input(id, e, was_closed, "port unreachable");
}

void RelayEngine::after_vpn_input(const ConnId&, Entry& e, bool was_closed, const char* what) {
    if (!was_closed && e.gate.closed() && e.gate.endpoint_junk() > 0)
        emit(EngineEvent::Level::info, "session towards VPN " + e.vpn.to_string() + " closed: " + what +
                                           " from the endpoint, which is no WireGuard server");
}

// ---- introspection

std::vector<RelayEngine::ConnId> RelayEngine::session_ids() const {
    std::vector<ConnId> out;
    out.reserve(sessions_.size());
    for (const auto& [id, e] : sessions_) out.push_back(id);
    return out;
}

std::optional<RelayEngine::SessionView> RelayEngine::session(const ConnId& id) const {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return std::nullopt;
    const Entry& e = *it->second;
    return SessionView{e.session, e.gate, e.vpn, e.vpn_open};
}

uint64_t RelayEngine::probe_bytes_unanswered() const {
    uint64_t n = unsolicited_ended_;
    for (const auto& [id, e] : sessions_) n += e->session.unsolicited_bytes();
    return n;
}

}  // namespace pave
