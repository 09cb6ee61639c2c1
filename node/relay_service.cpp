#include "node/relay_service.h"

#include "node/json_writer.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <sstream>

#include "crypto/hex.h"
#include "dht/opendht/dht_node.h"
#include "node/log.h"
#include "node/loop_queue.h"
#include "node/udp_port.h"
#include "node/vpn_socket.h"
#include "relay/wire/demux.h"

namespace pave {

RelayService::RelayService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, const Ed25519Key& key, UdpPort& port,
                           const RelayConfig& cfg, CandidatesFn candidates, std::vector<Endpoint> own_addresses,
                           HostAddressesFn host_addresses)
    : loop_(loop),
      dht_(dht),
      queue_(queue),
      port_(port),
      candidates_(std::move(candidates)),
      host_addresses_(host_addresses ? std::move(host_addresses) : HostAddressesFn(&pave::host_addresses)),
      to_clients_(port.fd()) {
    uv_timer_init(loop_, timer_.create());
    timer_->data = this;
    RelayEngineHost& host = *this;
    engine_ = std::make_unique<RelayEngine>(host, key, cfg, std::move(own_addresses));
    uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<RelayService*>(t->data)->on_timer(); }, 0, 0);
}

RelayService::~RelayService() {
    engine_->shutdown(now());
    flush_batches();  // clients learn at once (CLOSE frame)
    engine_.reset();
    vpn_.clear();
    timer_.close();
}

bool RelayService::drain() {
    const EngineTime t = now();
    const bool any = engine_->drain(t);
    flush_batches();
    if (any) arm_timer();
    return any;
}

void RelayService::dht_joined() {
    engine_->on_dht_joined(now());
    arm_timer();
}

void RelayService::close_sessions() {
    engine_->shutdown(now());
    flush_batches();
}

EngineTime RelayService::now() {
    EngineTime t;
    t.mono = std::chrono::steady_clock::now();
    t.unix_ms = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
    return t;
}

uint64_t RelayService::thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// ---- time

void RelayService::arm_timer() {
    auto t = std::chrono::steady_clock::now();
    auto next = engine_->next_deadline();
    auto ms = next <= t ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(next - t).count() + 1;
    uv_timer_start(timer_, [](uv_timer_t* h) { static_cast<RelayService*>(h->data)->on_timer(); },
                   uint64_t(std::min<int64_t>(ms, 1000)), 0);
}

void RelayService::on_timer() {
    engine_->on_tick(now());
    arm_timer();
}

// ---- from the shared port

bool RelayService::on_control(ByteView wire, const Endpoint& from) {
    if (!engine_->on_datagram(now(), from, wire)) return false;
    arm_timer();
    return true;
}

bool RelayService::on_wireguard(ByteView pkt, const Endpoint& from) {
    // The data path: deadlines only move later here (and the timer fires at least every second).
    return engine_->on_datagram(now(), from, pkt);
}

void RelayService::on_stun(ByteView data, const Endpoint& from, UdpPort& port) {
    reply_port_ = &port;
    engine_->on_datagram(now(), from, data);
    reply_port_ = nullptr;
}

void RelayService::flush_batches() {
    for (auto& [id, s] : vpn_) s->flush();
    to_clients_.flush();
}

// ---- RelayEngineHost

void RelayService::send(const Endpoint& to, ByteView data) {
    // WireGuard towards clients is batched until the end of the loop iteration; control
    // frames (punching, validation, keepalives, CLOSE) leave at once.
    if (classify(data) == PacketKind::wireguard) to_clients_.add(data, to);
    else port_.send(data, to);
}

bool RelayService::send_reply(const Endpoint& to, ByteView data) {
    UdpPort& p = reply_port_ ? *reply_port_ : port_;
    return p.send_guarded(data, to, AmplificationGuard::Traffic::reply);
}

void RelayService::dht_put(const DhtKey& key, Bytes value) { dht_.put(key, std::move(value)); }

uint64_t RelayService::dht_announce(const DhtKey& key, Bytes value) {
    // The id is known only once announce returns: the callback (OpenDHT's thread, possibly
    // before that) posts to the loop, which runs it after this call has stored the id.
    auto id = std::make_shared<std::atomic<uint64_t>>(0);
    uint64_t v = dht_.announce(key, std::move(value), [this, key, id](bool ok) {
        queue_.post([this, key, id, ok] {
            engine_->on_announce_done(now(), key, id->load(), ok);
            arm_timer();
        });
    });
    id->store(v);
    return v;
}

void RelayService::dht_withdraw(const DhtKey& key, uint64_t id) { dht_.cancel_announce(key, id); }

// Ready, not only connected: the relay's first searches wait for the DHT's join (DhtNode::ready).
bool RelayService::dht_connected() { return dht_.ready(); }

DhtListenToken RelayService::dht_listen(const DhtKey& key) {
    DhtListenToken token = ++next_listen_;
    listens_[token] = dht_.listen(key, [this, key, token](std::vector<Bytes> values, bool expired) {
        if (expired) return;
        // OpenDHT's thread: only a size check here (a value of the wrong size reaches the
        // engine empty, to be counted), everything else on the loop thread.
        for (auto& v : values)
            if (v.size() != kRendezvousValueSize) v.clear();
        queue_.post([this, key, token, values = std::move(values)]() mutable {
            log::debug("relay", "{} value(s) at an inbox shard key", values.size());
            engine_->on_dht_values(now(), key, token, std::move(values), false);
            arm_timer();
        });
    });
    return token;
}

void RelayService::dht_cancel_listen(const DhtKey& key, DhtListenToken token) {
    auto it = listens_.find(token);
    if (it == listens_.end()) return;
    dht_.cancel_listen(key, it->second);
    listens_.erase(it);
}

void RelayService::event(const EngineEvent& e) {
    // Engine messages carry peer addresses as text: redacted unless --log-addresses.
    std::string msg = log::show_addresses() ? e.message : log::redact_addresses(e.message);
    switch (e.level) {
        case EngineEvent::Level::debug: log::debug(e.topic, "{}", msg); break;
        case EngineEvent::Level::info: log::info(e.topic, "{}", msg); break;
        case EngineEvent::Level::warn: log::warn(e.topic, "{}", msg); break;
        case EngineEvent::Level::error: log::error(e.topic, "{}", msg); break;
    }
}

std::string RelayService::vpn_open(const ConnId& id, const Endpoint& vpn, uint32_t fwmark) {
    auto s = std::make_unique<VpnSocket>(
        loop_,
        [this, id](ByteView data) { engine_->on_vpn_datagram(now(), id, data); },
        [this, id] {
            engine_->on_vpn_unreachable(now(), id);
            arm_timer();
        });
    if (std::string err = s->open(vpn, fwmark); !err.empty()) return err;
    vpn_[id] = std::move(s);
    return "";
}

void RelayService::vpn_send(const ConnId& id, ByteView data) {
    auto it = vpn_.find(id);
    if (it != vpn_.end()) it->second->send(data);
}

void RelayService::vpn_close(const ConnId& id) { vpn_.erase(id); }

// ---- the shell's view

std::string RelayService::sessions_text() const {
    const RelayEngine& en = *engine_;
    std::ostringstream o;
    o << "# " << en.session_count() << " relay session(s)\n";
    for (const auto& id : en.session_ids()) {
        auto v = en.session(id);
        const Session& ss = v->session;
        const Gate& g = v->gate;
        o << "relay " << to_hex(id) << " state=" << pave::to_string(ss.state())
          << " peer=" << (ss.peer() ? ss.peer()->to_string() : std::string("-")) << " vpn=" << v->vpn.to_string()
          << " rtt_ms=" << (ss.rtt() ? std::to_string(double(ss.rtt()->count()) / 1000.0) : std::string("-"))
          << " frames_in=" << ss.frames_in() << " frames_out=" << ss.frames_out() << " rebinds=" << ss.rebinds()
          << " wg_to_vpn=" << g.packets_to_endpoint() << "/" << g.bytes_to_endpoint() << "B"
          << " wg_to_client=" << g.packets_to_client() << "/" << g.bytes_to_client() << "B"
          << " unlocked=" << (g.unlocked() ? 1 : 0) << " drops:";
        for (size_t d = 0; d < size_t(SessionDrop::count_); ++d)
            o << " " << pave::to_string(SessionDrop(d)) << "=" << ss.drops(SessionDrop(d));
        for (size_t k = 1; k < Gate::kVerdictCount; ++k)
            o << " " << pave::to_string(Gate::Verdict(k)) << "=" << g.count(Gate::Verdict(k));
        o << "\n";
    }
    o << "intake:";
    for (size_t i = 0; i < size_t(Intake::count_); ++i)
        o << " " << RelayEngine::to_string(Intake(i)) << "=" << en.intake(Intake(i));
    o << " queued=" << en.queued_offers() << " decrypt_cpu_us=" << en.decrypt_cpu_ns() / 1000 << "\n";
    const RelayEngineConfig& cfg = en.config();
    o << "slots: established=" << en.admission().established() << "/" << cfg.capacity
      << " pending=" << en.admission().pending() << "/" << cfg.pending_sessions
      << " probe_bytes_unanswered=" << en.probe_bytes_unanswered() << " probe_limited=" << en.probe_limiter().refused()
      << "\n";
    uint64_t dg = to_clients_.datagrams(), sc = to_clients_.syscalls();
    for (const auto& [id, s] : vpn_) {
        dg += s->sent().datagrams();
        sc += s->sent().syscalls();
    }
    o << "send: datagrams=" << dg << " syscalls=" << sc << " errors=" << to_clients_.errors() << "\n";
    return o.str();
}

void RelayService::sessions_json(JsonWriter& j) const {
    const RelayEngine& en = *engine_;
    j.key("relay").begin_object().key("sessions").begin_array();
    for (const auto& id : en.session_ids()) {
        auto v = en.session(id);
        const Session& ss = v->session;
        const Gate& g = v->gate;
        j.begin_object().field("id", to_hex(id)).field("state", pave::to_string(ss.state()));
        if (ss.peer()) j.field("peer", ss.peer()->to_string());
        else j.key("peer").null();
        j.field("vpn", v->vpn.to_string());
        if (ss.rtt()) j.field("rtt_us", uint64_t(ss.rtt()->count()));
        else j.key("rtt_us").null();
        j.field("frames_in", ss.frames_in()).field("frames_out", ss.frames_out()).field("rebinds", ss.rebinds());
        j.field("wg_to_vpn_packets", g.packets_to_endpoint()).field("wg_to_vpn_bytes", g.bytes_to_endpoint());
        j.field("wg_to_client_packets", g.packets_to_client()).field("wg_to_client_bytes", g.bytes_to_client());
        j.field("unlocked", g.unlocked()).field("unlocked_by_claim", g.unlocked_by_claim());
        j.field("claim_bytes", g.claim_bytes()).field("claim_packets", uint64_t(g.claim_packets()));
        j.key("drops").begin_object();
        for (size_t d = 0; d < size_t(SessionDrop::count_); ++d)
            j.field(pave::to_string(SessionDrop(d)), ss.drops(SessionDrop(d)));
        for (size_t k = 1; k < Gate::kVerdictCount; ++k)
            j.field(pave::to_string(Gate::Verdict(k)), g.count(Gate::Verdict(k)));
        j.end_object().end_object();
    }
    j.end_array();
    j.key("intake").begin_object();
    for (size_t i = 0; i < size_t(Intake::count_); ++i) j.field(RelayEngine::to_string(Intake(i)), en.intake(Intake(i)));
    j.field("queued", uint64_t(en.queued_offers())).field("decrypt_cpu_us", en.decrypt_cpu_ns() / 1000);
    j.field("answers_sent", en.answers_sent()).field("hellos_unmatched", en.hellos_unmatched());
    j.field("refusal_openers_sent", en.refusal_openers_sent());
    j.field("claims_accepted", en.claims_accepted()).field("claims_refused", en.claims_refused());
    j.end_object();
    const RelayEngineConfig& cfg = en.config();
    j.key("slots").begin_object();
    j.field("established", uint64_t(en.admission().established())).field("capacity", cfg.capacity);
    j.field("pending", uint64_t(en.admission().pending())).field("pending_budget", cfg.pending_sessions);
    j.field("probe_bytes_unanswered", uint64_t(en.probe_bytes_unanswered()));
    j.field("probe_limited", uint64_t(en.probe_limiter().refused()));
    j.end_object().end_object();
}

}  // namespace pave
