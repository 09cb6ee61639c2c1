#include "node/client_service.h"

#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <sstream>

#include "crypto/hex.h"
#include "crypto/random.h"
#include "crypto/session_keys.h"
#include "dht/bucket_keys.h"
#include "dht/directory_feed.h"
#include "node/candidates.h"
#include "node/log.h"
#include "node/loop_queue.h"
#include "node/reflector.h"
#include "node/udp_port.h"

namespace pave {

namespace {

thread_local std::array<char, 65536> g_local_buf;

uint64_t unix_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

std::string short_id(const Ed25519Public& pub) { return node_id(pub).substr(0, 16); }

}  // namespace

const char* ClientService::to_string(Step s) {
    switch (s) {
        case Step::finding_relays: return "finding relays";
        case Step::learning_address: return "learning public address";
        case Step::rendezvous: return "rendezvous";
        case Step::punching: return "punching";
        case Step::connected: return "connected";
        case Step::failed: return "failed";
    }
    return "?";
}

ClientService::ClientService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, UdpPort& port, DirectoryFeed& feed,
                             Reflector& reflector, const ClientConfig& cfg, FatalFn fatal)
    : loop_(loop), dht_(dht), queue_(queue), port_(port), feed_(feed), reflector_(reflector), cfg_(cfg),
      fatal_(std::move(fatal)),
      to_relay_(port.fd()) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
}

ClientService::~ClientService() {
    // Tell the relay at once (CLOSE frame), so it stops forwarding for our address.
    if (session_) session_->close(0, Clock::now());
    if (answer_listen_ && answer_key_) dht_.cancel_listen(*answer_key_, *answer_listen_);
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    flush_batches();
    to_local_.set_fd(-1);
    if (local_) {
        uv_udp_recv_stop(local_);
        local_->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(local_), [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
    }
}

std::string ClientService::start() {
    local_ = new uv_udp_t;
    uv_udp_init_ex(loop_, local_, cfg_.listen.family());
    local_->data = this;
    int rc = uv_udp_bind(local_, cfg_.listen.sa(), 0);
    if (rc == 0)
        rc = uv_udp_recv_start(
            local_, [](uv_handle_t*, size_t, uv_buf_t* b) { *b = uv_buf_init(g_local_buf.data(), unsigned(g_local_buf.size())); },
            &ClientService::on_local_recv);
    if (rc != 0) return "cannot listen for WireGuard on " + cfg_.listen.to_string() + ": " + uv_strerror(rc);
    uv_os_fd_t fd;
    uv_fileno(reinterpret_cast<uv_handle_t*>(local_), &fd);
    to_local_.set_fd(fd);
    progress("listening for WireGuard on " + cfg_.listen.to_string() + " (point its Endpoint here)");
    begin_attempt();
    return "";
}

void ClientService::progress(const std::string& msg) {
    std::printf("pave connect: %s\n", msg.c_str());
    std::fflush(stdout);
    log::info("connect", "{}", msg);
}

void ClientService::fail(const std::string& step, const std::string& why) {
    step_ = Step::failed;
    std::string line = "failed at step '" + step + "': " + why;
    progress(line);
    if (session_) session_->close(0, Clock::now());
    session_.reset();
    if (answer_listen_ && answer_key_) dht_.cancel_listen(*answer_key_, *answer_listen_);
    answer_listen_.reset();
    if (!ever_connected_) {
        fatal_(1, line);
        return;
    }
    // The tunnel was up before: keep WireGuard's endpoint and look for another relay.
    begin_attempt();
}

void ClientService::try_another_relay() {
    if (answer_listen_ && answer_key_) dht_.cancel_listen(*answer_key_, *answer_listen_);
    answer_listen_.reset();
    eph_.reset();
    relay_.reset();
    step_ = Step::finding_relays;
    step_start_ = Clock::now();
}

void ClientService::begin_attempt() {
    ++attempts_;
    tried_.clear();
    attempt_start_ = step_start_ = Clock::now();
    step_ = Step::finding_relays;
    relay_.reset();
    progress("finding relays");
}

void ClientService::tick() {
    auto now = Clock::now();
    auto in_attempt = now - attempt_start_;
    bool timed_out = in_attempt > cfg_.timeout;
    switch (step_) {
        case Step::finding_relays: {
            // Uniformly at random among the live relays not yet tried in this attempt.
            auto live = feed_.directory().live(unix_now());
            std::erase_if(live, [&](const RelayInfo& r) { return tried_.count(r.node_pub) != 0; });
            relay_.reset();
            if (!live.empty()) relay_ = live[random_below(live.size())];
            if (relay_) {
                tried_.insert(relay_->node_pub);
                progress("found " + std::to_string(live.size()) + " relay(s)" +
                         (tried_.size() > 1 ? " not tried yet" : "") + "; picked relay " + short_id(relay_->node_pub) +
                         " at random");
                step_ = Step::learning_address;
                step_start_ = now;
            } else if (timed_out) {
                auto st = dht_.status();
                fail("finding relays", !st.connected() ? "not connected to the DHT (bootstrap unreachable?)"
                                       : tried_.empty()
                                           ? "no relay in the directory after " + std::to_string(cfg_.timeout.count()) + " s"
                                           : "no answer from any of the " + std::to_string(tried_.size()) + " relay(s) tried");
            }
            break;
        }
        case Step::learning_address: {
            std::vector<Endpoint> reflectors = cfg_.stun_servers;
            for (const auto& n : dht_.known_nodes(8)) reflectors.push_back(n);
            reflector_.probe(reflectors, now);
            bool enough = reflector_.answers() >= 2 || (reflector_.answers() >= 1 && now - step_start_ > std::chrono::milliseconds(600));
            bool give_up = now - step_start_ > std::chrono::seconds(3);
            if (enough || give_up) {
                if (auto m = reflector_.mapped())
                    progress("public address learned from " + std::to_string(reflector_.answers()) +
                             " reflector(s); NAT mapping " + nat_mapping_name(reflector_.mapping()));
                else
                    progress("no reflector answered; offering host addresses only");
                send_offer();
            }
            break;
        }
        case Step::rendezvous:
            if (timed_out) {
                fail("rendezvous", "no answer from relay " + short_id(relay_->node_pub) + " within " +
                                       std::to_string(cfg_.timeout.count()) + " s");
            } else if (now - step_start_ > kAnswerWait) {
                // A relay whose record has not expired yet may be gone: try another one.
                progress("no answer from relay " + short_id(relay_->node_pub) + " in " +
                         std::to_string(kAnswerWait.count()) + " s; trying another relay");
                try_another_relay();
            }
            break;
        case Step::punching:
            // Connected once the path is validated and its RTT measured (one PING/PONG).
            if (session_ && session_->state() == SessionState::established &&
                (session_->rtt() || now - step_start_ > std::chrono::seconds(2))) {
                step_ = Step::connected;
                ever_connected_ = true;
                char rtt[32] = "?";
                if (session_->rtt()) std::snprintf(rtt, sizeof rtt, "%.2f", double(session_->rtt()->count()) / 1000.0);
                progress("path validated; connected via relay " + short_id(relay_->node_pub) + " (RTT " + rtt + " ms)");
            } else if (session_ && session_->state() == SessionState::failed) {
                fail("punching", session_->failure());
            }
            break;
        case Step::connected:
            if (session_ && session_->state() != SessionState::established)
                fail("session", session_->failure().empty() ? "relay closed the session" : session_->failure());
            break;
        case Step::failed: break;
    }
}

void ClientService::send_offer() {
    Offer offer;
    random_bytes(offer.session_id);
    session_id_ = offer.session_id;
    eph_ = X25519Key::generate();
    offer.client_share = eph_->pub;
    offer.candidates = gather_candidates(port_.bound(), reflector_.mapped(), kRendezvousMaxCandidates);
    offer.vpn = cfg_.vpn;
    offer.timestamp_ms = unix_ms();
    uint64_t period = unix_now() / relay_->period_secs;
    // Seal to the key of the period the record names if it is still current, else the
    // current one's neighbour the relay still holds.
    if (relay_->period + 1 < period || relay_->period > period + 1) {
        fail("rendezvous", "relay record is from another period (clock skew?)");
        return;
    }
    auto sealed = seal_offer(offer, relay_->inbox_pub, relay_->node_pub, relay_->period);
    if (!sealed) {
        fail("rendezvous", "could not seal the offer");
        return;
    }
    answer_material_ = sealed->answer_key_material;
    auto ak = answer_dht_key(answer_material_);
    DhtKey key;
    std::copy(ak.begin(), ak.end(), key.begin());
    answer_key_ = key;
    answer_listen_ = dht_.listen(key, [this](std::vector<Bytes> values, bool expired) {
        if (expired) return;
        for (auto& v : values) {
            if (v.size() != kRendezvousValueSize) continue;
            queue_.post([this, v = std::move(v)] { on_answer(v); });
        }
    });
    dht_.put(inbox_key(relay_->bucket, relay_->period_secs, relay_->period), std::move(sealed->value));
    step_ = Step::rendezvous;
    step_start_ = Clock::now();
    progress("rendezvous sent to relay " + short_id(relay_->node_pub) + " (" + std::to_string(offer.candidates.size()) +
             " address candidate(s))");
}

void ClientService::on_answer(const Bytes& value) {
    if (step_ != Step::rendezvous || !eph_) return;
    auto a = open_answer(value, *eph_, answer_material_);
    if (!a || a->session_id != session_id_) return;
    if (answer_listen_ && answer_key_) dht_.cancel_listen(*answer_key_, *answer_listen_);
    answer_listen_.reset();
    if (!a->accepted) {
        // A full relay says so; another may have room. Any other refusal (e.g. the VPN endpoint
        // is not allowed) would be the same everywhere.
        if (a->refuse_code == kRefuseCapacity && Clock::now() - attempt_start_ < cfg_.timeout) {
            progress("relay " + short_id(relay_->node_pub) + " refused: " + a->refuse_reason + "; trying another relay");
            try_another_relay();
            return;
        }
        fail("rendezvous", "relay refused: " + a->refuse_reason);
        return;
    }
    auto ee = x25519_shared(eph_->priv, a->relay_share);
    if (!ee) {
        fail("rendezvous", "relay sent an invalid key share");
        return;
    }
    auto keys = derive_session_keys(answer_material_, *ee);
    eph_.reset();  // the ephemeral private key is not needed any more
    if (!keys) {
        fail("rendezvous", "session key derivation failed");
        return;
    }
    auto now = Clock::now();
    SessionTimers t = cfg_.timers;
    auto left = cfg_.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(now - attempt_start_);
    t.punch_timeout = std::max<std::chrono::milliseconds>(left, std::chrono::milliseconds(1000));
    session_ = std::make_unique<Session>(SessionRole::client, *keys, a->candidates, now, t,
                                         [this](const Endpoint& to, ByteView d) { port_.send(d, to); });
    step_ = Step::punching;
    step_start_ = now;
    progress("answer received; punching to " + std::to_string(a->candidates.size()) + " relay candidate(s)");
    arm_timer();
}

void ClientService::arm_timer() {
    if (!session_) return;
    auto now = Clock::now();
    auto next = session_->next_deadline();
    auto ms = next <= now ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    uv_timer_start(timer_, [](uv_timer_t* t) {
        auto* self = static_cast<ClientService*>(t->data);
        if (!self->session_) return;
        auto n = Clock::now();
        if (self->session_->next_deadline() <= n) self->session_->on_timer(n);
        self->tick();
        self->arm_timer();
    }, uint64_t(std::min<int64_t>(ms, 1000)), 0);
}

bool ClientService::on_control(ByteView wire, const Endpoint& from) {
    if (!session_) return false;
    auto id = peek_conn_id(wire);
    if (!id || *id != session_->conn_id()) return false;
    session_->on_control(wire, from, Clock::now());
    tick();
    arm_timer();
    return true;
}

bool ClientService::on_wireguard(ByteView pkt, const Endpoint& from) {
    if (!session_ || !session_->peer() || !(*session_->peer() == from) || !local_peer_) return false;
    session_->on_data_from_peer(Clock::now());
    ++wg_from_relay_;
    to_local_.add(pkt, *local_peer_);
    return true;
}

void ClientService::on_local_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
    auto* self = static_cast<ClientService*>(h->data);
    if (!self || n <= 0 || !addr || (flags & UV_UDP_PARTIAL)) return;
    auto from = Endpoint::from_sockaddr(addr, addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    if (from) self->on_local_packet(ByteView(reinterpret_cast<const uint8_t*>(buf->base), size_t(n)), *from);
}

void ClientService::on_local_packet(ByteView pkt, const Endpoint& from) {
    // Lock onto the first WireGuard source we hear; nothing else may use the tunnel.
    if (!local_peer_) {
        if (classify(pkt) != PacketKind::wireguard) return;
        local_peer_ = from;
        progress("WireGuard attached from " + from.to_string());
    } else if (!(*local_peer_ == from)) {
        ++local_other_source_;
        return;
    }
    if (classify(pkt) != PacketKind::wireguard) return;
    if (step_ != Step::connected || !session_ || !session_->peer()) {
        ++local_dropped_not_connected_;
        return;
    }
    ++wg_to_relay_;
    to_relay_.add(pkt, *session_->peer());
}

std::string ClientService::sessions_text() const {
    std::ostringstream o;
    o << "# client step=" << to_string(step_) << " attempts=" << attempts_ << "\n";
    if (session_) {
        const Session& s = *session_;
        o << "client " << to_hex(s.conn_id()) << " state=" << pave::to_string(s.state())
          << " relay=" << (relay_ ? node_id(relay_->node_pub) : std::string("-"))
          << " peer=" << (s.peer() ? s.peer()->to_string() : std::string("-"))
          << " rtt_ms=" << (s.rtt() ? std::to_string(double(s.rtt()->count()) / 1000.0) : std::string("-"))
          << " frames_in=" << s.frames_in() << " frames_out=" << s.frames_out() << " rebinds=" << s.rebinds()
          << " wg_to_relay=" << wg_to_relay_ << " wg_from_relay=" << wg_from_relay_ << " drops:";
        for (size_t d = 0; d < size_t(SessionDrop::count_); ++d)
            o << " " << pave::to_string(SessionDrop(d)) << "=" << s.drops(SessionDrop(d));
        o << " local_other_source=" << local_other_source_ << " local_not_connected=" << local_dropped_not_connected_
          << "\n";
    }
    return o.str();
}

}  // namespace pave
