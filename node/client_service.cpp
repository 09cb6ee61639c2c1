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
#include "relay/reflector.h"
#include "node/udp_port.h"
#include "relay/endpoint_policy.h"

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
    cancel_asks();
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
    cancel_asks();
    if (!ever_connected_) {
        fatal_(1, line);
        return;
    }
    // The tunnel was up before: keep WireGuard's endpoint and look for another relay.
    begin_attempt();
}

void ClientService::begin_attempt() {
    ++attempts_;
    cancel_asks();
    choice_.reset();
    asks_in_attempt_ = 0;
    attempt_start_ = step_start_ = Clock::now();
    step_ = Step::finding_relays;
    relay_.reset();
    progress("finding relays");
}

void ClientService::drop_ask(uint64_t ask_id) {
    auto it = asks_.find(ask_id);
    if (it == asks_.end()) return;
    if (it->second.listen) dht_.cancel_listen(it->second.answer_key, *it->second.listen);
    asks_.erase(it);  // the ephemeral private key is wiped with it
}

void ClientService::cancel_asks() {
    while (!asks_.empty()) {
        if (choice_) choice_->on_cancel(asks_.begin()->second.relay.node_pub);
        drop_ask(asks_.begin()->first);
    }
}

void ClientService::tick() {
    auto now = Clock::now();
    auto in_attempt = now - attempt_start_;
    bool timed_out = in_attempt > cfg_.timeout;
    switch (step_) {
        case Step::finding_relays: {
            size_t n = feed_.directory().live(unix_now()).size();
            if (n > 0) {
                progress("found " + std::to_string(n) + " relay(s) in the directory");
                step_ = Step::learning_address;
                step_start_ = now;
            } else if (timed_out) {
                auto st = dht_.status();
                fail("finding relays", !st.connected() ? "not connected to the DHT (bootstrap unreachable?)"
                                                       : "no relay in the directory after " +
                                                             std::to_string(cfg_.timeout.count()) + " s");
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
                step_ = Step::rendezvous;
                step_start_ = last_summary_ = now;
                choice_.emplace(now);
                rendezvous_tick(now);
            }
            break;
        }
        case Step::rendezvous:
            if (timed_out) {
                std::string asked = std::to_string(choice_ ? choice_->distinct_asked() : 0);
                fail("rendezvous", "no relay accepted within " + std::to_string(cfg_.timeout.count()) + " s (" + asked +
                                       " relay(s) asked, " + std::to_string(choice_ ? choice_->silent() : 0) +
                                       " offer(s) unanswered)");
            } else {
                rendezvous_tick(now);
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
                char took[32];
                std::snprintf(took, sizeof took, "%.1f", double(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                    now - attempt_start_).count()) / 1000.0);
                progress("path validated; connected via relay " + short_id(relay_->node_pub) + " (RTT " + rtt + " ms); " +
                         took + " s after the attempt began");
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

void ClientService::rendezvous_tick(Clock::time_point now) {
    if (!choice_) return;
    // Offers unanswered for too long: their listens end, and their relays count as silent.
    for (const auto& pub : choice_->take_silent(now)) {
        for (auto it = asks_.begin(); it != asks_.end(); ++it) {
            if (it->second.relay.node_pub != pub) continue;
            if (choice_->silent() <= kVerboseAsks)
                progress("no answer from relay " + short_id(pub) + " in " + std::to_string(kAnswerWait.count()) +
                         " s; asking others");
            drop_ask(it->first);
            break;
        }
    }
    // New offers as the pace allows (a few per tick at most: the tick runs every ~100 ms).
    auto live = feed_.directory().live(unix_now());
    for (int i = 0; i < 4 && step_ == Step::rendezvous; ++i) {
        auto relay = choice_->next(live, now);
        if (!relay) break;
        if (!send_offer(*relay)) choice_->on_cancel(relay->node_pub);
    }
    if (step_ == Step::rendezvous && now - last_summary_ >= std::chrono::seconds(2) && choice_->asked() > kVerboseAsks) {
        last_summary_ = now;
        progress("still looking: " + std::to_string(choice_->distinct_asked()) + " of " + std::to_string(live.size()) +
                 " relay(s) asked, " + std::to_string(choice_->waiting()) + " waiting, " +
                 std::to_string(choice_->silent()) + " silent (" + pave::to_string(choice_->pace(now)) + " pace)");
    }
}

bool ClientService::send_offer(const RelayInfo& relay) {
    // The directory keeps only records whose fields are in range; this is a second line.
    if (relay.period_secs < kMinPeriodSecs || relay.period_secs > kMaxPeriodSecs) {
        ++offers_unsealable_;
        return false;
    }
    Ask ask;
    ask.relay = relay;
    Offer offer;
    random_bytes(offer.session_id);
    ask.session_id = offer.session_id;
    ask.eph = X25519Key::generate();
    offer.client_share = ask.eph->pub;
    offer.candidates = gather_candidates(port_.bound(), reflector_.mapped(), kRendezvousMaxCandidates);
    offer.vpn = cfg_.vpn;
    offer.timestamp_ms = unix_ms();
    // Sealed to the key of the period the record names: the relay holds it while the record
    // lives (a record lives at most one period past its own; the directory checked the period
    // against our clock).
    auto sealed = seal_offer(offer, relay.inbox_pub, relay.node_pub, relay.period);
    if (!sealed) {
        ++offers_unsealable_;
        return false;
    }
    ask.answer_material = sealed->answer_key_material;
    auto ak = answer_dht_key(ask.answer_material);
    std::copy(ak.begin(), ak.end(), ask.answer_key.begin());
    const uint64_t id = next_ask_id_++;
    ask.listen = dht_.listen(ask.answer_key, [this, id](std::vector<Bytes> values, bool expired) {
        if (expired) return;
        for (auto& v : values) {
            if (v.size() != kRendezvousValueSize) continue;
            queue_.post([this, id, v = std::move(v)] { on_answer(id, v); });
        }
    });
    dht_.put(inbox_key(relay.bucket, relay.period_secs, relay.period), std::move(sealed->value));
    asks_.emplace(id, std::move(ask));
    if (++asks_in_attempt_ <= kVerboseAsks)
        progress("picked relay " + short_id(relay.node_pub) + (relay.answered ? " (it answered before)" : " at random") +
                 "; rendezvous sent (" + std::to_string(offer.candidates.size()) + " address candidate(s))");
    return true;
}

void ClientService::on_answer(uint64_t ask_id, const Bytes& value) {
    auto it = asks_.find(ask_id);
    if (it == asks_.end()) {
        ++answers_late_;  // cancelled, silent, or another relay won
        return;
    }
    Ask& ask = it->second;
    if (step_ != Step::rendezvous || !ask.eph) return;
    auto a = open_answer(value, *ask.eph, ask.answer_material);
    if (!a || a->session_id != ask.session_id) return;  // not the answer to this offer
    const RelayInfo relay = ask.relay;
    const std::string who = "relay " + short_id(relay.node_pub);
    if (!rendezvous_timestamp_fresh(a->timestamp_ms, unix_ms())) {
        ++answers_stale_;
        return;  // a replayed or badly clocked answer: keep waiting
    }
    // The relay is alive: remember it (tried first next time, never evicted from the directory).
    choice_->on_answer(relay.node_pub);
    feed_.directory().note_answered(relay.node_pub);
    if (!a->accepted) {
        ++answers_refused_;
        drop_ask(ask_id);
        // A full relay says so, as does one that carries enough sessions from our address;
        // another may have room. Any other refusal (e.g. the VPN endpoint is not allowed) would
        // be the same everywhere.
        if (a->refuse_code == kRefuseCapacity || a->refuse_code == kRefuseAddressLimit) {
            progress(who + " refused: " + a->refuse_reason + "; asking others");
            return;
        }
        fail("rendezvous", "relay refused: " + a->refuse_reason + " (" + who + ")");
        return;
    }
    // The relay's candidates under the endpoint policy too: a relay must not aim us at our own
    // network (private ones only with --lan-candidates).
    std::vector<Endpoint> relay_cands;
    for (const auto& c : a->candidates)
        if (check_candidate(c, {}, {}, lan_candidates()) == EndpointVerdict::ok) relay_cands.push_back(c);
    if (relay_cands.empty()) {
        ++answers_no_usable_candidate_;
        drop_ask(ask_id);
        progress(who + " named no usable address; asking others");
        return;
    }
    auto ee = x25519_shared(ask.eph->priv, a->relay_share);
    if (!ee) {
        drop_ask(ask_id);
        progress(who + " sent an invalid key share; asking others");
        return;
    }
    auto keys = derive_session_keys(ask.answer_material, *ee);
    drop_ask(ask_id);  // the ephemeral private key is not needed any more
    if (!keys) {
        fail("rendezvous", "session key derivation failed");
        return;
    }
    // This relay wins: the other offers are withdrawn (their listens cancelled; a relay that
    // accepts one of them later frees its slot when nobody punches).
    cancel_asks();
    relay_ = relay;
    auto now = Clock::now();
    SessionTimers t = cfg_.timers;
    auto left = cfg_.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(now - attempt_start_);
    t.punch_timeout = std::max<std::chrono::milliseconds>(left, std::chrono::milliseconds(1000));
    session_ = std::make_unique<Session>(SessionRole::client, *keys, relay_cands, now, t,
                                         [this](const Endpoint& to, ByteView d) { port_.send(d, to); });
    step_ = Step::punching;
    step_start_ = now;
    progress("answer received; punching to " + std::to_string(relay_cands.size()) + " relay candidate(s) of " + who +
             " (" + std::to_string(choice_->distinct_asked()) + " relay(s) asked)");
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
    o << "# client step=" << to_string(step_) << " attempts=" << attempts_;
    if (choice_)
        o << " offers=" << choice_->asked() << " relays_asked=" << choice_->distinct_asked()
          << " answered=" << choice_->answered() << " silent=" << choice_->silent() << " waiting=" << choice_->waiting();
    o << " answers_refused=" << answers_refused_ << " answers_stale=" << answers_stale_
      << " answers_no_usable_candidate=" << answers_no_usable_candidate_ << " answers_late=" << answers_late_
      << " offers_unsealable=" << offers_unsealable_ << "\n";
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
