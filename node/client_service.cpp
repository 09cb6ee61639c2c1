#include "node/client_service.h"

#include "relay/wire/endpoint_policy.h"

#include "node/json_writer.h"

#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <sstream>

#include "crypto/ed25519_key.h"
#include "crypto/hex.h"
#include "node/candidates.h"
#include "node/log.h"
#include "node/loop_queue.h"
#include "node/state_file.h"
#include "node/udp_port.h"

namespace pave {

namespace {

thread_local std::array<char, 65536> g_local_buf;

ClientEngineConfig engine_config(const ClientConfig& c, const UdpPort& port) {
    ClientEngineConfig e;
    e.vpn = c.vpn;
    e.timeout = c.timeout;
    e.stun_servers = c.stun_servers;
    e.family = port.bound().family();
    e.lan_candidates = lan_candidates();
    e.standby = c.standby;
    e.timers = c.timers;
    e.own_relay = c.own_relay;
    e.guards = c.guards;
    e.min_relay_age_s = c.min_relay_age_s;
    if (e.guards > 0 && !c.state_dir.empty()) {
        std::string err;
        if (auto text = read_state_file(guard_state_path(c.state_dir), kMaxGuardStateBytes, err)) e.guard_state = *text;
        if (!err.empty()) log::warn("guards", "{}; choosing new guards", err);
    }
    if (!c.state_dir.empty()) {
        std::string err;
        if (auto text = read_state_file(directory_cache_path(c.state_dir), kMaxDirectoryCacheBytes, err))
            e.directory_cache = *text;
        if (!err.empty()) log::warn("directory", "{}; reading the directory from the DHT only", err);
    }
    return e;
}

}  // namespace

ClientService::ClientService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, UdpPort& port, const ClientConfig& cfg,
                             FatalFn fatal)
    : loop_(loop), dht_(dht), queue_(queue), port_(port), cfg_(cfg), fatal_(std::move(fatal)),
      engine_(*this, engine_config(cfg, port)), to_relay_(port.fd()),
      address_watch_(loop, [this] {
          engine_.on_local_addresses_changed(now());
          tick();
      }) {
    uv_timer_init(loop_, timer_.create());
    timer_->data = this;
}

ClientService::~ClientService() {
    // Tells the relay at once (CLOSE frame), so it stops forwarding for our address.
    engine_.close(now());
    timer_.close();
    flush_batches();
    to_local_.set_fd(-1);
    local_.close();
}

EngineTime ClientService::now() {
    EngineTime t;
    t.mono = Clock::now();
    t.unix_ms = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
    return t;
}

std::string ClientService::start() {
    uv_udp_init_ex(loop_, local_.create(), cfg_.listen.family());
    local_->data = this;
    int rc = uv_udp_bind(local_, cfg_.listen.sa(), 0);
    if (rc == 0)
        rc = uv_udp_recv_start(
            local_, [](uv_handle_t*, size_t, uv_buf_t* b) { *b = uv_buf_init(g_local_buf.data(), unsigned(g_local_buf.size())); },
            &ClientService::on_local_recv);
    if (rc != 0) return "cannot listen for WireGuard on " + cfg_.listen.to_string() + ": " + uv_strerror(rc);
    uv_os_fd_t fd;
    uv_fileno(local_.handle(), &fd);
    to_local_.set_fd(fd);
    event({EngineEvent::Level::info, "connect",
           "listening for WireGuard on " + local_address().to_string() + " (point its Endpoint here)"});
    engine_.start(now());
    if (std::string e = address_watch_.start(); !e.empty())
        log::warn("connect", "no watch on this host's addresses ({}); a change is noticed from the relays' paths", e);
    tick();
    return "";
}

Endpoint ClientService::local_address() const {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_udp_getsockname(local_.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        if (auto e = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), socklen_t(len))) return *e;
    return cfg_.listen;
}

void ClientService::tick() { arm_timer(engine_.on_tick(now())); }

void ClientService::arm_timer(Clock::time_point next) {
    auto t = Clock::now();
    auto ms = next <= t ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(next - t).count() + 1;
    uv_timer_start(timer_, [](uv_timer_t* h) { static_cast<ClientService*>(h->data)->tick(); },
                   uint64_t(std::min<int64_t>(ms, 1000)), 0);
}

bool ClientService::on_control(ByteView wire, const Endpoint& from) {
    if (!engine_.on_datagram(now(), from, wire)) return false;
    tick();
    return true;
}

bool ClientService::on_wireguard(ByteView pkt, const Endpoint& from) { return engine_.on_datagram(now(), from, pkt); }

bool ClientService::on_stun(ByteView pkt, const Endpoint& from) {
    if (!engine_.on_datagram(now(), from, pkt)) return false;
    tick();  // a reflector's answer may end the step 'learning public address'
    return true;
}

void ClientService::on_local_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
    auto* self = static_cast<ClientService*>(h->data);
    if (!self || n <= 0 || !addr || (flags & UV_UDP_PARTIAL)) return;
    auto from = Endpoint::from_sockaddr(addr, addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    if (!from) return;
    const bool watching = self->engine_.watching();
    self->engine_.on_local_datagram(now(), *from, ByteView(reinterpret_cast<const uint8_t*>(buf->base), size_t(n)));
    // Data went to the relay with nothing heard since: the engine's PathWatch wants a tick soon.
    if (!watching && self->engine_.watching()) self->tick();
}

// --- ClientEngineHost ---

void ClientService::send(const Endpoint& to, ByteView data) { port_.send(data, to); }

void ClientService::send_wireguard(const Endpoint& to, ByteView data) { to_relay_.add(data, to); }

void ClientService::send_local(const Endpoint& to, ByteView data) { to_local_.add(data, to); }

void ClientService::send_probe(const Endpoint& to, ByteView data) {
    port_.send_guarded(data, to, AmplificationGuard::Traffic::request);
}

void ClientService::dht_put(const DhtKey& key, Bytes value) {
    const auto at = std::chrono::steady_clock::now();
    dht_.put(key, std::move(value), [this, at](bool ok) {
        // OpenDHT's thread: only the time is taken here.
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - at);
        queue_.post([ok, ms] { log::debug("connect", "offer put {} after {} ms", ok ? "done" : "failed", ms.count()); });
    });
}

DhtListenToken ClientService::dht_listen(const DhtKey& key) {
    const DhtListenToken token = next_token_++;
    listens_[token] = dht_.listen(key, [this, key, token](std::vector<Bytes> values, bool expired) {
        // OpenDHT's thread: on to the loop thread.
        queue_.post([this, key, token, values = std::move(values), expired] {
            engine_.on_dht_values(now(), key, token, values, expired);
            tick();
        });
    });
    return token;
}

DhtListenToken ClientService::dht_get(const DhtKey& key) {
    const DhtListenToken token = next_token_++;
    dht_.get(
        key,
        [this, key, token](std::vector<Bytes> values, bool) {
            queue_.post([this, key, token, values = std::move(values)] {
                engine_.on_dht_values(now(), key, token, values, false);
                tick();
            });
        },
        [this, key, token](bool ok) {
            queue_.post([this, key, token, ok] {
                engine_.on_dht_done(now(), key, token, ok);
                tick();
            });
        });
    return token;
}

void ClientService::dht_cancel_listen(const DhtKey& key, DhtListenToken token) {
    auto it = listens_.find(token);
    if (it == listens_.end()) return;
    dht_.cancel_listen(key, it->second);
    listens_.erase(it);
}

void ClientService::save_directory_cache(const std::string& text) {
    if (cfg_.state_dir.empty()) return;
    if (std::string err = write_state_file(directory_cache_path(cfg_.state_dir), text); !err.empty())
        log::warn("directory", "{}", err);
}

void ClientService::save_guard_state(const std::string& text) {
    if (cfg_.state_dir.empty()) return;
    if (std::string err = write_state_file(guard_state_path(cfg_.state_dir), text); !err.empty())
        log::warn("guards", "{}", err);
}

void ClientService::event(const EngineEvent& e) {
    if (e.topic == "connect") {
        std::printf("pave connect: %s\n", e.message.c_str());
        std::fflush(stdout);
    }
    switch (e.level) {
        case EngineEvent::Level::debug: log::debug(e.topic, "{}", e.message); break;
        case EngineEvent::Level::info: log::info(e.topic, "{}", e.message); break;
        case EngineEvent::Level::warn: log::warn(e.topic, "{}", e.message); break;
        case EngineEvent::Level::error: log::error(e.topic, "{}", e.message); break;
    }
}

std::vector<Endpoint> ClientService::known_nodes(size_t max) { return dht_.known_nodes(max); }

bool ClientService::dht_connected() { return dht_.status().connected(); }

std::vector<Endpoint> ClientService::candidates(const std::optional<Endpoint>& reflexive, size_t max) {
    return gather_candidates(port_.bound(), reflexive, max);
}

void ClientService::gave_up(const std::string& why) { fatal_(1, why); }

std::string ClientService::sessions_text() const {
    const ClientEngine& e = engine_;
    const auto& c = e.counters();
    std::ostringstream o;
    o << "# client step=" << to_string(e.step()) << " attempts=" << e.attempts();
    if (const RelayChoice* ch = e.choice())
        o << " offers=" << ch->asked() << " relays_asked=" << ch->distinct_asked() << " answered=" << ch->answered()
          << " silent=" << ch->silent() << " waiting=" << ch->waiting();
    o << " answers_refused=" << c.answers_refused << " answers_stale=" << c.answers_stale
      << " answers_no_usable_candidate=" << c.answers_no_usable_candidate << " answers_late=" << c.answers_late
      << " hellos_sent=" << c.hellos_sent << " hellos_on_contact=" << c.hellos_on_contact << " hellos_limited=" << c.hellos_limited << " relays_unreachable=" << c.relays_unreachable
      << " offers_unsealable=" << c.offers_unsealable << " refused_at_validation=" << c.refused_at_validation << "\n";
    if (const Session* s = e.session()) {
        o << "client " << to_hex(s->conn_id()) << " state=" << pave::to_string(s->state())
          << " relay=" << (e.relay() ? node_id(e.relay()->node_pub) : std::string("-"))
          << " peer=" << (s->peer() ? s->peer()->to_string() : std::string("-"))
          << " rtt_ms=" << (s->rtt() ? std::to_string(double(s->rtt()->count()) / 1000.0) : std::string("-"))
          << " frames_in=" << s->frames_in() << " frames_out=" << s->frames_out() << " rebinds=" << s->rebinds()
          << " wg_to_relay=" << c.wg_to_relay << " wg_from_relay=" << c.wg_from_relay << " drops:";
        for (size_t d = 0; d < size_t(SessionDrop::count_); ++d)
            o << " " << pave::to_string(SessionDrop(d)) << "=" << s->drops(SessionDrop(d));
        o << " local_other_source=" << c.local_other_source << " local_not_connected=" << c.local_dropped_not_connected
          << "\n";
    }
    for (const auto& sb : e.standbys()) {
        const Session& ss = *sb.session;
        o << "standby " << to_hex(ss.conn_id()) << " state=" << pave::to_string(ss.state())
          << " relay=" << node_id(sb.relay.node_pub) << " peer=" << (ss.peer() ? ss.peer()->to_string() : std::string("-"))
          << " rtt_ms=" << (ss.rtt() ? std::to_string(double(ss.rtt()->count()) / 1000.0) : std::string("-")) << "\n";
    }
    if (const auto& f = e.last_failover())
        o << "last failover: " << f->from << " -> " << f->to << " (" << f->cause << ") gap_ms="
          << (f->gap ? std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(*f->gap).count()) : std::string("-"))
          << " keypair_moved=" << (f->keypair_moved ? 1 : 0) << " failovers=" << c.failovers << "\n";
    return o.str();
}

void ClientService::sessions_json(JsonWriter& j) const {
    const ClientEngine& e = engine_;
    const auto& c = e.counters();
    j.key("client").begin_object().field("step", to_string(e.step())).field("attempts", uint64_t(e.attempts()));
    j.field("vpn", cfg_.vpn.to_string()).field("vpn_answered", e.vpn_answered());
    if (const RelayChoice* ch = e.choice()) {
        j.field("offers", uint64_t(ch->asked())).field("relays_asked", uint64_t(ch->distinct_asked()));
        j.field("answered", uint64_t(ch->answered())).field("silent", uint64_t(ch->silent()));
        j.field("waiting", uint64_t(ch->waiting()));
    }
    j.field("answers_refused", c.answers_refused).field("answers_stale", c.answers_stale);
    j.field("answers_no_usable_candidate", c.answers_no_usable_candidate).field("answers_late", c.answers_late);
    j.field("hellos_sent", c.hellos_sent).field("hellos_on_contact", c.hellos_on_contact).field("hellos_limited", c.hellos_limited).field("relays_unreachable", c.relays_unreachable);
    j.field("offers_unsealable", c.offers_unsealable).field("refused_at_validation", c.refused_at_validation);
    j.field("wg_to_relay", c.wg_to_relay).field("wg_from_relay", c.wg_from_relay);
    j.field("local_other_source", c.local_other_source).field("local_not_connected", c.local_dropped_not_connected);
    if (const Session* s = e.session()) {
        j.key("session").begin_object().field("id", to_hex(s->conn_id())).field("state", pave::to_string(s->state()));
        if (e.relay()) j.field("relay", node_id(e.relay()->node_pub));
        else j.key("relay").null();
        if (s->peer()) {
            EndpointVerdict v = classify_address(*s->peer());
            j.field("peer", s->peer()->to_string()).field("peer_class", v == EndpointVerdict::ok ? "public" : pave::to_string(v));
        } else {
            j.key("peer").null().key("peer_class").null();
        }
        if (s->rtt()) j.field("rtt_us", uint64_t(s->rtt()->count()));
        else j.key("rtt_us").null();
        j.field("frames_in", s->frames_in()).field("frames_out", s->frames_out()).field("rebinds", s->rebinds());
        j.key("drops").begin_object();
        for (size_t d = 0; d < size_t(SessionDrop::count_); ++d)
            j.field(pave::to_string(SessionDrop(d)), s->drops(SessionDrop(d)));
        j.end_object().end_object();
    } else {
        j.key("session").null();
    }
    // Standby sessions and the last failover.
    j.field("failovers", c.failovers).field("standbys_made", c.standbys_made).field("standbys_lost", c.standbys_lost);
    j.field("watch_probes", c.watch_probes).field("keypair_frames", c.keypair_frames);
    j.field("address_changes", c.address_changes);
    j.field("wg_bytes_to_relay", c.wg_bytes_to_relay).field("wg_bytes_from_relay", c.wg_bytes_from_relay);
    j.key("standbys").begin_array();
    for (const auto& sb : e.standbys()) {
        const Session& ss = *sb.session;
        j.begin_object().field("id", to_hex(ss.conn_id())).field("state", pave::to_string(ss.state()));
        j.field("relay", node_id(sb.relay.node_pub));
        if (ss.peer()) {
            EndpointVerdict v = classify_address(*ss.peer());
            j.field("peer", ss.peer()->to_string()).field("peer_class", v == EndpointVerdict::ok ? "public" : pave::to_string(v));
        } else {
            j.key("peer").null().key("peer_class").null();
        }
        if (ss.rtt()) j.field("rtt_us", uint64_t(ss.rtt()->count()));
        else j.key("rtt_us").null();
        j.field("frames_in", ss.frames_in()).field("frames_out", ss.frames_out()).end_object();
    }
    j.end_array();
    if (const auto& f = e.last_failover()) {
        j.key("last_failover").begin_object().field("cause", f->cause).field("from", f->from).field("to", f->to);
        j.field("keypair_moved", f->keypair_moved).field("ago_ms", uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - f->at).count()));
        if (f->gap) j.field("gap_ms", uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(*f->gap).count()));
        else j.key("gap_ms").null();
        j.end_object();
    } else {
        j.key("last_failover").null();
    }
    j.end_object();
}

}  // namespace pave
