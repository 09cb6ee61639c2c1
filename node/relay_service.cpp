#include "node/relay_service.h"

#include <time.h>

#include <algorithm>
#include <sstream>

#include "crypto/hex.h"
#include "crypto/session_keys.h"
#include "dht/bucket_keys.h"
#include "dht/directory_feed.h"
#include "dht/presence_record.h"
#include "node/log.h"
#include "node/loop_queue.h"
#include "node/udp_port.h"
#include "relay/endpoint_policy.h"

namespace pave {

namespace {

constexpr auto kHostAddressRefresh = std::chrono::seconds(10);

uint64_t thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

uint64_t unix_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

}  // namespace

const char* RelayService::to_string(Intake i) {
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

RelayService::RelayService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, const Ed25519Key& key, UdpPort& port,
                           const RelayConfig& cfg, CandidatesFn candidates, std::vector<Endpoint> own_addresses,
                           HostAddressesFn host_addresses)
    : loop_(loop),
      dht_(dht),
      queue_(queue),
      key_(key),
      port_(port),
      cfg_(cfg),
      candidates_(std::move(candidates)),
      own_addresses_(std::move(own_addresses)),
      host_addresses_(host_addresses ? std::move(host_addresses) : HostAddressesFn(&pave::host_addresses)),
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
      }()),
      to_clients_(port.fd()) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    drain_timer_ = new uv_timer_t;
    uv_timer_init(loop_, drain_timer_);
    drain_timer_->data = this;
}

RelayService::~RelayService() {
    for (auto& [id, s] : sessions_) s->close(Clock::now());
    flush_batches();  // clients learn at once (CLOSE frame)
    sessions_.clear();
    for (uv_timer_t* t : {timer_, drain_timer_}) {
        uv_timer_stop(t);
        uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    }
}

// ---- presence and inbox keys

void RelayService::rotate(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    for (uint64_t p : {cur - 1, cur, cur + 1})
        if (!inbox_keys_.count(p)) inbox_keys_.emplace(p, X25519Key::generate());
    // Keys of periods that are over are erased (their private halves zeroed on destruction).
    for (auto it = inbox_keys_.begin(); it != inbox_keys_.end();)
        it = (it->first + 1 < cur || it->first > cur + 1) ? inbox_keys_.erase(it) : std::next(it);
}

void RelayService::tick(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    if (cur != published_period_) {
        rotate(now_s);
        listen_inboxes(now_s);
        publish(now_s);
    } else if (now_s >= last_publish_ + std::max<uint32_t>(ttl_s_ / 3, 1)) {
        publish(now_s);  // three chances per TTL to be seen before the record expires
    }
    admission_.prune(unix_ms());
    destinations_.prune(Clock::now());
    probe_limiter_.prune(Clock::now());
    refresh_own_addresses(Clock::now());
    reap(Clock::now());
}

void RelayService::publish(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    PresenceRecord r;
    r.inbox_pub = inbox_keys_.at(cur).pub;
    r.period_secs = period_secs_;
    r.period = cur;
    r.capacity = cfg_.capacity;
    r.expires = now_s + ttl_s_;
    dht_.put(relay_bucket_key(bucket_), encode_presence(r, key_));
    last_publish_ = now_s;
    published_period_ = cur;
    ++publications_;
    log::debug("relay", "presence published in bucket {} (period {}, expires in {} s)", bucket_, cur, ttl_s_);
}

void RelayService::listen_inboxes(uint64_t now_s) {
    uint64_t cur = period_of(now_s);
    for (auto it = inbox_listens_.begin(); it != inbox_listens_.end();) {
        if (it->first + 1 < cur) {
            dht_.cancel_listen(inbox_key(bucket_, period_secs_, it->first), it->second);
            it = inbox_listens_.erase(it);
        } else {
            ++it;
        }
    }
    for (uint64_t p : {cur - 1, cur, cur + 1}) {
        if (inbox_listens_.count(p)) continue;
        inbox_listens_[p] = dht_.listen(inbox_key(bucket_, period_secs_, p), [this, p](std::vector<Bytes> values, bool expired) {
            if (expired) return;
            // OpenDHT's thread: only a size check here, everything else on the loop thread.
            for (auto& v : values) {
                if (v.size() != kRendezvousValueSize) {
                    queue_.post([this] { ++intake_[size_t(Intake::wrong_size)]; });
                    continue;
                }
                queue_.post([this, v = std::move(v), p]() mutable { enqueue(std::move(v), p); });
            }
        });
    }
}

// ---- rendezvous intake

void RelayService::enqueue(Bytes value, uint64_t period) {
    if (offers_.size() >= cfg_.offer_queue) {
        ++intake_[size_t(Intake::queue_full)];
        return;
    }
    offers_.push_back({std::move(value), period});
    drain_offers();
}

void RelayService::drain_offers() {
    auto now = Clock::now();
    uint64_t t0 = thread_cpu_ns();
    while (!offers_.empty() && decrypt_budget_.take(now)) {
        QueuedOffer q = std::move(offers_.front());
        offers_.pop_front();
        ++intake_[size_t(handle_offer(q))];
    }
    decrypt_cpu_ns_ += thread_cpu_ns() - t0;
    if (!offers_.empty() && !uv_is_active(reinterpret_cast<uv_handle_t*>(drain_timer_))) {
        ++intake_[size_t(Intake::rate_deferred)];
        uv_timer_start(drain_timer_, [](uv_timer_t* t) { static_cast<RelayService*>(t->data)->drain_offers(); }, 20, 0);
    }
}

void RelayService::refresh_own_addresses(Clock::time_point now) {
    if (!host_addresses_ || (host_cache_at_ != Clock::time_point{} && now - host_cache_at_ < kHostAddressRefresh)) return;
    host_cache_ = host_addresses_();
    host_cache_at_ = now;
}

RelayService::Intake RelayService::handle_offer(const QueuedOffer& q) {
    auto it = inbox_keys_.find(q.period);
    if (it == inbox_keys_.end()) return Intake::not_for_us;
    auto opened = open_offer(q.value, it->second, key_.public_key(), q.period);
    if (!opened) return Intake::not_for_us;
    const Offer& offer = opened->offer;
    uint64_t now_ms = unix_ms();

    // Own addresses: the bound sockets, every interface address of the host, and the public
    // (reflexive) and host candidates as of now. Own sockets: the bound ones, a wildcard one
    // on each host address.
    refresh_own_addresses(Clock::now());
    std::vector<Endpoint> own = own_addresses_, own_bound;
    const std::vector<Endpoint> mine = candidates_();
    own.insert(own.end(), host_cache_.begin(), host_cache_.end());
    own.insert(own.end(), mine.begin(), mine.end());
    for (const auto& b : own_addresses_) {
        own_bound.push_back(b);
        for (Endpoint h : host_cache_)
            if (h.family() == b.family()) {
                h.set_port(b.port());
                own_bound.push_back(h);
            }
    }
    own_bound.insert(own_bound.end(), mine.begin(), mine.end());

    auto d = admission_.check_offer(offer, now_ms, own, own_bound);
    Answer a;
    a.session_id = offer.session_id;
    a.timestamp_ms = now_ms;
    auto refuse = [&](uint8_t code, std::string why) {
        a.accepted = false;
        a.refuse_code = code;
        a.refuse_reason = std::move(why);
        answer(*opened, a);
        log::info("relay", "rendezvous refused: {}", a.refuse_reason);
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
        log::debug("relay", "rendezvous: {} candidate(s) refused by the endpoint policy", d.candidates_refused);

    // Without a public address (not learned yet) and with LAN candidates off, nothing to offer.
    if (mine.empty()) return refuse(kRefuseInternal, "relay does not know its public address yet");

    X25519Key eph = X25519Key::generate();
    auto ee = x25519_shared(eph.priv, offer.client_share);
    if (!ee) return Intake::not_for_us;  // low-order share: not a genuine client
    auto keys = derive_session_keys(opened->answer_key_material, *ee);
    if (!keys) return Intake::not_for_us;
    if (sessions_.count(keys->conn_id)) return Intake::replayed;

    auto now = Clock::now();
    auto slot = admission_.open(keys->conn_id);
    if (!slot.ok) return refuse(kRefuseCapacity, "relay busy: too many sessions being set up");
    if (slot.evicted) {
        auto ev = sessions_.find(*slot.evicted);
        if (ev != sessions_.end()) {
            log::debug("relay", "session {} evicted while punching: its slot went to a newer rendezvous",
                       to_hex(ev->first));
            ev->second->close(now);
        }
        ++intake_[size_t(Intake::evicted)];
    }
    // No socket towards the VPN yet: it is opened once the client's address is validated.
    auto s = std::make_unique<RelaySession>(loop_, port_, to_clients_, *keys, d.candidates, offer.vpn, cfg_.gate, destinations_,
                                            cfg_.timers, now);
    s->session().set_probe_limiter(&probe_limiter_);
    a.accepted = true;
    a.relay_share = eph.pub;
    a.candidates = mine;
    answer(*opened, a);
    log::info("relay", "rendezvous accepted: session {} towards VPN {} ({} candidate(s))", to_hex(keys->conn_id),
              log::addr(offer.vpn), d.candidates.size());
    sessions_[keys->conn_id] = std::move(s);
    arm_timer();
    return Intake::accepted;
}

void RelayService::update_admission(const ByteArray<8>& id, RelaySession& s, Clock::time_point now) {
    const Session& ss = s.session();
    if (!admission_.is_pending(id)) return;
    if (ss.heard()) admission_.heard(id);
    if (ss.state() != SessionState::established || !ss.peer()) return;
    auto v = admission_.validated(id, *ss.peer());
    if (v.ok) {
        if (std::string err = s.open_vpn_socket(cfg_.fwmark); !err.empty()) {
            log::warn("relay", "session {} closed: {}", to_hex(id), err);
            s.session().close(kRefuseInternal, now);
        }
        return;
    }
    // The newcomer is refused, never an older session: CLOSE carries the refusal code.
    ++intake_[size_t(Intake::refused_at_validation)];
    log::info("relay", "session {} refused after validation: {}", to_hex(id), v.reason);
    s.session().close(v.refuse_code, now);
}

void RelayService::answer(const OpenedOffer& o, const Answer& a) {
    Bytes v = seal_answer(a, o.offer.client_share, o.answer_key_material);
    if (v.empty()) {
        ++intake_[size_t(Intake::answer_failed)];
        return;
    }
    DhtKey k;
    auto ak = answer_dht_key(o.answer_key_material);
    std::copy(ak.begin(), ak.end(), k.begin());
    dht_.put(k, std::move(v));
}

// ---- sessions

bool RelayService::on_control(ByteView wire, const Endpoint& from) {
    auto id = peek_conn_id(wire);
    if (!id) return false;
    auto it = sessions_.find(*id);
    if (it == sessions_.end()) return false;
    auto now = Clock::now();
    it->second->on_control(wire, from, now);
    update_admission(it->first, *it->second, now);
    arm_timer();
    return true;
}

bool RelayService::on_wireguard(ByteView pkt, const Endpoint& from) {
    // WireGuard is accepted only from a session's validated, bound client address.
    auto accepts = [&](RelaySession* s) {
        const auto& peer = s->session().peer();
        return peer && *peer == from && s->session().state() == SessionState::established;
    };
    auto it = by_peer_.find(from);
    RelaySession* s = it != by_peer_.end() && accepts(it->second) ? it->second : nullptr;
    if (!s) {  // first packet from this address, or the session re-bound: look it up again
        for (auto& [id, cand] : sessions_)
            if (accepts(cand.get())) s = cand.get();
        if (!s) return false;
        if (by_peer_.size() >= 4 * cfg_.capacity) by_peer_.clear();  // stale entries of re-bound peers
        by_peer_[from] = s;
    }
    s->on_client_wireguard(pkt, Clock::now());
    return true;
}

void RelayService::flush_batches() {
    for (auto& [id, s] : sessions_) s->flush();
    to_clients_.flush();
}

void RelayService::arm_timer() {
    if (sessions_.empty()) {
        uv_timer_stop(timer_);
        return;
    }
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (auto& [id, s] : sessions_) next = std::min(next, s->next_deadline());
    auto ms = next <= now ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<RelayService*>(t->data)->on_session_timer(); },
                   uint64_t(std::min<int64_t>(ms, 1000)), 0);
}

void RelayService::on_session_timer() {
    auto now = Clock::now();
    for (auto& [id, s] : sessions_)
        if (s->next_deadline() <= now) {
            s->on_timer(now);
            update_admission(id, *s, now);
        }
    reap(now);
    arm_timer();
}

void RelayService::reap(Clock::time_point now) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second->finished(now)) {
            it->second->close(now);  // tells the client (CLOSE frame) if it was still established
            const Session& ss = it->second->session();
            log::info("relay", "session {} ended ({}{}{})", to_hex(it->first), pave::to_string(ss.state()),
                      ss.failure().empty() ? "" : ": ", ss.failure());
            std::erase_if(by_peer_, [&](const auto& e) { return e.second == it->second.get(); });
            admission_.remove(it->first);  // a failed punch returns its slot at once
            unsolicited_ended_ += ss.unsolicited_bytes();
            it = sessions_.erase(it);
        } else {
            ++it;
        }
    }
}

std::string RelayService::sessions_text() const {
    std::ostringstream o;
    o << "# " << sessions_.size() << " relay session(s)\n";
    for (const auto& [id, s] : sessions_) {
        const Session& ss = s->session();
        const Gate& g = s->gate();
        o << "relay " << to_hex(id) << " state=" << pave::to_string(ss.state())
          << " peer=" << (ss.peer() ? ss.peer()->to_string() : std::string("-")) << " vpn=" << s->vpn().to_string()
          << " rtt_ms=" << (ss.rtt() ? std::to_string(double(ss.rtt()->count()) / 1000.0) : std::string("-"))
          << " frames_in=" << ss.frames_in() << " frames_out=" << ss.frames_out() << " rebinds=" << ss.rebinds()
          << " wg_to_vpn=" << g.packets_to_endpoint() << "/" << g.bytes_to_endpoint() << "B"
          << " wg_to_client=" << g.packets_to_client() << "/" << g.bytes_to_client() << "B"
          << " unlocked=" << (g.unlocked() ? 1 : 0) << " drops:";
        for (size_t d = 0; d < size_t(SessionDrop::count_); ++d)
            o << " " << pave::to_string(SessionDrop(d)) << "=" << ss.drops(SessionDrop(d));
        for (size_t v = 1; v < Gate::kVerdictCount; ++v)
            o << " " << pave::to_string(Gate::Verdict(v)) << "=" << g.count(Gate::Verdict(v));
        o << "\n";
    }
    o << "intake:";
    for (size_t i = 0; i < size_t(Intake::count_); ++i) o << " " << to_string(Intake(i)) << "=" << intake_[i];
    o << " queued=" << offers_.size() << " decrypt_cpu_us=" << decrypt_cpu_ns_ / 1000 << "\n";
    uint64_t unsolicited = unsolicited_ended_;
    for (const auto& [id, s] : sessions_) unsolicited += s->session().unsolicited_bytes();
    o << "slots: established=" << admission_.established() << "/" << cfg_.capacity << " pending=" << admission_.pending()
      << "/" << cfg_.pending_sessions << " probe_bytes_unanswered=" << unsolicited
      << " probe_limited=" << probe_limiter_.refused() << "\n";
    uint64_t dg = to_clients_.datagrams(), sc = to_clients_.syscalls();
    for (const auto& [id, s] : sessions_) {
        dg += s->sent_to_vpn().datagrams();
        sc += s->sent_to_vpn().syscalls();
    }
    o << "send: datagrams=" << dg << " syscalls=" << sc << " errors=" << to_clients_.errors() << "\n";
    return o.str();
}

}  // namespace pave
