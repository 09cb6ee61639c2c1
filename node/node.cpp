#include "node/node.h"

#include <netdb.h>
#include <uv.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <sstream>

#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "dht/directory_feed.h"
#include "dht/dht_node.h"
#include "node/candidates.h"
#include "node/client_service.h"
#include "node/control_server.h"
#include "node/log.h"
#include "node/loop_queue.h"
#include "node/relay_service.h"
#include "node/resolve.h"
#include "node/state_dir.h"
#include "node/udp_port.h"
#include "relay/rate_limiter.h"
#include "relay/reflector.h"
#include "relay/stun.h"
#include "relay/stun_answerer.h"

namespace pave {

namespace {

using Clock = std::chrono::steady_clock;

std::string fmt_duration(uint64_t s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%luh%02lum%02lus", (unsigned long)(s / 3600), (unsigned long)(s / 60 % 60),
                  (unsigned long)(s % 60));
    return buf;
}

std::vector<std::string> split_words(const std::string& line, size_t max_parts) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < line.size() && out.size() + 1 < max_parts) {
        while (i < line.size() && line[i] == ' ') ++i;
        size_t j = line.find(' ', i);
        if (i < line.size()) out.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (j == std::string::npos) return out;
        i = j;
    }
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size()) out.push_back(line.substr(i));
    return out;
}

// A DHT key given by the user: 40 hex digits as is, anything else hashed like OpenDHT does.
DhtKey parse_user_key(const std::string& s) {
    if (s.size() == 40)
        if (auto b = from_hex(s)) {
            DhtKey k{};
            std::copy(b->begin(), b->end(), k.begin());
            return k;
        }
    return dht_key_of(s);
}

class Node {
public:
    explicit Node(const NodeOptions& o) : opts_(o), loop_(uv_default_loop()), queue_(loop_) {}

    int run();

private:
    std::string open_ports();
    void start_dht();
    void on_tick();
    void bootstrap_if_needed();
    void handle_stun(ByteView data, const Endpoint& from, UdpPort& port);
    void handle_control(ByteView data, const Endpoint& from);
    void handle_wireguard(ByteView data, const Endpoint& from);
    UdpPort& session_port() { return port4_ ? *port4_ : *port6_; }
    std::vector<Endpoint> own_candidates();
    void handle_command(const std::string& line, ControlServer::Reply reply);
    std::string cmd_status();
    std::string cmd_relays();
    void shutdown();
    void request_stop();  // shutdown from the next loop iteration (safe inside callbacks)
    bool start_client();

    NodeOptions opts_;
    uv_loop_t* loop_;
    LoopQueue queue_;
    std::optional<Ed25519Key> key_;
    std::unique_ptr<UdpPort> port4_, port6_;
    std::unique_ptr<DhtNode> dht_;
    std::unique_ptr<DirectoryFeed> feed_;
    std::unique_ptr<Reflector> reflector_;
    std::unique_ptr<RelayService> relay_;
    std::unique_ptr<ClientService> client_;
    Clock::time_point last_reflect_{};
    uint64_t control_unmatched_ = 0, wireguard_unmatched_ = 0;
    std::unique_ptr<ControlServer> control_;
    uv_timer_t tick_timer_{};
    uv_check_t flush_check_{};
    uv_timer_t stop_timer_{};
    uv_signal_t sigint_{}, sigterm_{};
    Clock::time_point started_ = Clock::now();
    Clock::time_point last_bootstrap_{};
    unsigned bootstrap_retries_ = 0;
    // STUN answers of a node without the relay role (a relay's engine answers its own).
    StunAnswerer stun_;
    bool stopping_ = false;
    int exit_code_ = 0;
};

std::string Node::open_ports() {
    std::vector<Endpoint> binds;
    bool explicit_bind = !opts_.bind.empty();
    if (!explicit_bind) {
        binds.push_back(*Endpoint::parse("0.0.0.0:0"));
        binds.push_back(*Endpoint::parse("[::]:0"));
    }
    for (const auto& b : opts_.bind) {
        auto e = Endpoint::parse(b.find(':') != std::string::npos && b.front() != '[' ? "[" + b + "]:0" : b + ":0");
        if (!e) return "invalid --bind address '" + b + "' (expected a numeric IPv4 or IPv6 address)";
        binds.push_back(*e);
    }
    for (auto& e : binds) {
        e.set_port(opts_.port);
        auto& slot = e.family() == AF_INET ? port4_ : port6_;
        if (slot) return "more than one --bind address of the same family";
        slot = std::make_unique<UdpPort>(loop_);
        std::string err = slot->open(e, opts_.fwmark);
        if (!err.empty()) {
            slot.reset();
            if (!explicit_bind && e.family() == AF_INET6) {
                log::warn("node", "IPv6 unavailable ({}), continuing with IPv4 only", err);
                continue;
            }
            return err;
        }
    }
    if (!port4_ && !port6_) return "no UDP socket could be opened";
    for (UdpPort* p : {port4_.get(), port6_.get()}) {
        if (!p) continue;
        p->set_handler(PacketKind::dht, [this](ByteView d, const Endpoint& from) {
            if (dht_) dht_->deliver(d, from);
        });
        p->set_handler(PacketKind::stun, [this, p](ByteView d, const Endpoint& from) { handle_stun(d, from, *p); });
        p->set_handler(PacketKind::control, [this](ByteView d, const Endpoint& from) { handle_control(d, from); });
        p->set_handler(PacketKind::wireguard, [this](ByteView d, const Endpoint& from) { handle_wireguard(d, from); });
    }
    return "";
}

void Node::handle_control(ByteView data, const Endpoint& from) {
    if (relay_ && relay_->on_control(data, from)) return;
    if (client_ && client_->on_control(data, from)) return;
    ++control_unmatched_;
}

void Node::handle_wireguard(ByteView data, const Endpoint& from) {
    bool taken = relay_ ? relay_->on_wireguard(data, from) : client_ && client_->on_wireguard(data, from);
    if (!taken) ++wireguard_unmatched_;
}

std::vector<Endpoint> Node::own_candidates() {
    return gather_candidates(session_port().bound(), reflector_ ? reflector_->mapped() : std::nullopt, 8);
}

void Node::handle_stun(ByteView data, const Endpoint& from, UdpPort& port) {
    if (client_ && &port == &session_port() && client_->on_stun(data, from)) return;
    if (reflector_ && &port == &session_port() && reflector_->on_stun(data, from)) return;
    if (relay_) return relay_->on_stun(data, from, port);
    if (auto out = stun_.answer(data, from, Clock::now()))
        stun_.sent(port.send_guarded(*out, from, AmplificationGuard::Traffic::reply));
}

void Node::start_dht() {
    DhtNode::Options o;
    o.network_id = opts_.network_id;
    if (port4_) {
        o.send4 = [p = port4_.get()](ByteView d, const Endpoint& to) { return p->send_dht(d, to); };
        o.bound4 = port4_->bound();
    }
    if (port6_) {
        o.send6 = [p = port6_.get()](ByteView d, const Endpoint& to) { return p->send_dht(d, to); };
        o.bound6 = port6_->bound();
    }
    o.verbose = opts_.dht_verbose;
    o.client = opts_.client;
    dht_ = std::make_unique<DhtNode>(o);
    std::optional<Ed25519Public> self;
    if (key_) self = key_->public_key();
    feed_ = std::make_unique<DirectoryFeed>(*dht_, queue_, self);
    feed_->start();
    reflector_ = std::make_unique<Reflector>(session_port().bound().family(), [p = &session_port()](const Endpoint& to, ByteView d) {
        p->send_guarded(d, to, AmplificationGuard::Traffic::request);
    });
    if (opts_.relay && key_) {
        RelayConfig rc;
        rc.presence_ttl_s = opts_.presence_ttl_s;
        rc.capacity = opts_.capacity;
        rc.allow_private_endpoints = opts_.allow_private_endpoints;
        rc.fwmark = opts_.fwmark;
        std::vector<Endpoint> own;
        for (UdpPort* p : {port4_.get(), port6_.get()})
            if (p) own.push_back(p->bound());
        relay_ = std::make_unique<RelayService>(loop_, *dht_, queue_, *key_, session_port(), rc,
                                                [this] { return own_candidates(); }, own);
    }
    bootstrap_if_needed();
}

void Node::bootstrap_if_needed() {
    // OpenDHT retries its bootstrap list by itself while disconnected; PAVE re-gives the list (which
    // replaces it, and restarts OpenDHT's attempts) only after a delay that doubles from 5 s up to
    // 5 min, and tells the user at each retry, with the address they gave, once the second fails.
    if (opts_.bootstrap.empty()) return;
    auto now = Clock::now();
    if (last_bootstrap_ == Clock::time_point{}) {
        last_bootstrap_ = now;
        dht_->bootstrap(opts_.bootstrap);
        return;
    }
    auto delay = [](unsigned retries) { return std::min(5u << std::min(retries, 6u), 300u); };
    auto st = dht_->status();
    if (st.connected() && st.good4 + st.good6 > 0) {
        if (bootstrap_retries_ > 0) log::info("dht", "connected: a bootstrap node answered");
        bootstrap_retries_ = 0;
        last_bootstrap_ = now;  // a later loss of every peer waits 5 s before the first retry
        return;
    }
    if (now - last_bootstrap_ < std::chrono::seconds(delay(bootstrap_retries_))) return;
    ++bootstrap_retries_;
    last_bootstrap_ = now;
    std::string list;
    for (const auto& b : opts_.bootstrap) list += (list.empty() ? "" : ", ") + b;
    // The user's own bootstrap address is shown: it is no peer's, and the warning is useless without it.
    if (bootstrap_retries_ == 1)
        log::info("dht", "not connected yet; retrying bootstrap (next retry in {} s)", delay(bootstrap_retries_));
    else
        log::warn("dht", "bootstrap {} unreachable (retrying in {} s): check the address or your network", list,
                  delay(bootstrap_retries_));
    dht_->bootstrap(opts_.bootstrap);
}

void Node::on_tick() {
    uint64_t now = unix_now();
    for (UdpPort* p : {port4_.get(), port6_.get()})
        if (p) p->tick();
    feed_->tick(now);
    if (client_) client_->tick();
    if (relay_) {
        // Keep learning the relay's public address from the DHT peers it knows (PAVE nodes answer STUN).
        auto t = Clock::now();
        if (reflector_->answers() < 2 && t - last_reflect_ > std::chrono::seconds(2)) {
            last_reflect_ = t;
            std::vector<Endpoint> refl;
            for (const auto& s : opts_.stun_servers) {
                std::string err;
                if (auto e = resolve_host_port(s, err)) refl.push_back(*e);
            }
            for (const auto& n : dht_->known_nodes(8)) refl.push_back(n);
            reflector_->probe(refl, t);
        }
    }
    bootstrap_if_needed();
}

std::string Node::cmd_status() {
    std::ostringstream o;
    auto st = dht_->status();
    // The client's engine learns the client's public address; the node's reflector the relay's.
    const Reflector* refl = client_ ? &client_->engine().reflector() : reflector_.get();
    auto up = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
    o << "id " << (key_ ? node_id(key_->public_key()) : std::string("(client role: no identity)")) << "\n";
    o << "role " << (relay_ ? "relay" : "no-relay") << (opts_.client ? " client" : "") << "\n";
    for (UdpPort* p : {port4_.get(), port6_.get()})
        if (p) o << "bound " << p->bound().to_string() << "\n";
    o << "network " << opts_.network_id << "\n";
    // "connected" only with at least one peer that answers; an unreachable bootstrap leaves
    // OpenDHT "connecting" forever, which the user should read as disconnected.
    bool dht_up = st.connected() && st.good4 + st.good6 > 0;
    o << "dht " << (dht_up ? "connected" : "disconnected") << " ipv4=" << st.v4 << " ipv6=" << st.v6;
    if (!dht_up && !opts_.bootstrap.empty()) o << " (retrying " << opts_.bootstrap.size() << " bootstrap node(s))";
    o << "\n";
    o << "dht_nodes " << (st.good4 + st.good6) << " good, " << (st.dubious4 + st.dubious6) << " dubious\n";
    o << "dht_id " << dht_->node_id_hex() << "\n";
    o << "relays_known " << feed_->directory().live(unix_now()).size() << "\n";
    if (relay_) {
        o << "bucket " << relay_->bucket() << " publications " << relay_->publications() << "\n";
        o << "inbox_key " << to_hex(relay_->current_inbox_key(unix_now())) << "\n";
    }
    const StunAnswerer& stun = relay_ ? relay_->stun() : stun_;
    o << "stun answered " << stun.answered() << " rate_limited " << stun.rate_limited() << " over_budget "
      << stun.over_budget() << "\n";
    if (refl) {
        auto m = refl->mapped();
        o << "public_address " << (m ? m->to_string() : std::string("unknown")) << " from "
          << refl->answers() << " reflector(s), nat_mapping " << nat_mapping_name(refl->mapping()) << "\n";
    }
    if (relay_) o << "relay_sessions " << relay_->session_count() << "\n";
    if (client_) o << "client_step " << ClientService::to_string(client_->step()) << "\n";
    o << "uptime " << fmt_duration(uint64_t(up)) << "\n";
    return o.str();
}

std::string Node::cmd_relays() {
    uint64_t now = unix_now();
    auto relays = feed_->directory().live(now);
    std::ostringstream o;
    o << "# " << relays.size() << " relay(s)\n";
    for (const auto& r : relays)
        o << node_id(r.node_pub) << " bucket=" << r.bucket << " capacity=" << r.capacity
          << " expires_in=" << (r.expires - now) << "s\n";
    return o.str();
}

void Node::handle_command(const std::string& line, ControlServer::Reply reply) {
    auto w = split_words(line, 4);
    if (w.empty()) return reply("");
    const std::string& c = w[0];
    if (c == "help") {
        return reply(
            "status              node id, bound addresses, DHT connectivity and node count, uptime\n"
            "relays              the relay directory as seen now, one relay per line (node id first)\n"
            "sessions            relay and client sessions\n"
            "stats               directory verdict counters\n"
            "dht get KEY         values stored at KEY (40 hex digits, or a string to hash)\n"
            "dht put KEY VALUE   put VALUE (text, or hex:HEX) at KEY under a fresh value id\n"
            "dht export          hex of every value this node stores\n"
            "help                this list\n"
            "quit                leave the shell\n");
    }
    if (c == "status") return reply(cmd_status());
    if (c == "relays") return reply(cmd_relays());
    if (c == "stats") {
        std::ostringstream o;
        const Directory& d = feed_->directory();
        o << "values_seen " << feed_->values_seen() << "\n";
        o << "judge_cpu_us " << feed_->judge_cpu_ns() / 1000 << "\n";
        for (size_t v = 0; v < size_t(Directory::Verdict::count_); ++v)
            o << "directory_" << Directory::to_string(Directory::Verdict(v)) << " " << d.count(Directory::Verdict(v)) << "\n";
        for (UdpPort* p : {port4_.get(), port6_.get()}) {
            if (!p) continue;
            std::string f = p->bound().family() == AF_INET ? "udp4_" : "udp6_";
            for (auto k : {PacketKind::dht, PacketKind::stun, PacketKind::control, PacketKind::wireguard,
                           PacketKind::address_check, PacketKind::unknown})
                o << f << "rx_" << packet_kind_name(k) << " " << p->received(k) << "\n";
            o << f << "send_errors " << p->send_errors() << "\n";
            const AmplificationGuard& g = p->guard();
            for (size_t c = 0; c < size_t(AmplificationGuard::Counter::count_); ++c)
                o << f << "guard_" << AmplificationGuard::to_string(AmplificationGuard::Counter(c)) << " "
                  << g.count(AmplificationGuard::Counter(c)) << "\n";
            o << f << "guard_addresses " << g.entries() << "\n";
            o << f << "guard_held_bytes " << g.held_bytes() << "\n";
            o << f << "address_checks_malformed " << p->address_checks_malformed() << "\n";
        }
        o << "dropped_control_unknown_session " << control_unmatched_ << "\n";
        o << "dropped_wireguard_no_session " << wireguard_unmatched_ << "\n";
        return reply(o.str());
    }
    if (c == "sessions") {
        std::string out;
        if (relay_) out += relay_->sessions_text();
        if (client_) out += client_->sessions_text();
        if (!relay_ && !client_) out = "# no sessions (relay off)\n";
        return reply(out);
    }
    if (c == "dht" && w.size() >= 2) {
        if (w[1] == "get" && w.size() == 3) {
            auto collected = std::make_shared<std::vector<Bytes>>();
            dht_->get(
                parse_user_key(w[2]),
                [this, collected](std::vector<Bytes> vals, bool) {
                    queue_.post([collected, vals = std::move(vals)] {
                        collected->insert(collected->end(), vals.begin(), vals.end());
                    });
                },
                [this, collected, reply](bool ok) {
                    queue_.post([collected, reply, ok] {
                        std::ostringstream o;
                        o << "# " << collected->size() << " value(s)" << (ok ? "" : " (lookup incomplete)") << "\n";
                        for (const auto& v : *collected) o << to_hex(v) << "\n";
                        reply(o.str());
                    });
                });
            return;
        }
        if (w[1] == "put" && w.size() == 4) {
            Bytes value(w[3].begin(), w[3].end());
            if (w[3].rfind("hex:", 0) == 0) {
                auto b = from_hex(w[3].substr(4));
                if (!b) return reply("error: VALUE after hex: is not hex\n");
                value = *b;
            }
            dht_->put(parse_user_key(w[2]), std::move(value), [this, reply](bool ok) {
                queue_.post([reply, ok] { reply(ok ? "ok\n" : "error: put was not confirmed by any storer\n"); });
            });
            return;
        }
        if (w[1] == "export" && w.size() == 2) {
            std::ostringstream o;
            for (const auto& v : dht_->export_values()) o << to_hex(v.key) << " " << to_hex(v.data) << "\n";
            return reply(o.str());
        }
    }
    reply("error: unknown command '" + line + "' (try help)\n");
}

void Node::request_stop() {
    uv_timer_start(&stop_timer_, [](uv_timer_t* t) { static_cast<Node*>(t->data)->shutdown(); }, 0, 0);
}

void Node::shutdown() {
    if (stopping_) return;
    stopping_ = true;
    log::info("node", "stopping");
    if (dht_) dht_->stop();  // joins OpenDHT's threads: no callback runs after this
    queue_.close();
    client_.reset();
    relay_.reset();
    if (control_) control_->close();
    if (port4_) port4_->close();
    if (port6_) port6_->close();
    uv_timer_stop(&stop_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer_), nullptr);
    uv_check_stop(&flush_check_);
    uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
    uv_timer_stop(&tick_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
}

bool Node::start_client() {
    if (opts_.client) {
        ClientConfig cc;
        std::string err;
        auto vpn = resolve_host_port(opts_.vpn, err);
        if (!vpn) {
            log::error("connect", "--vpn: {}", err);
            exit_code_ = 2;
            request_stop();
            return false;
        }
        auto listen = Endpoint::parse(opts_.listen);
        if (!listen) {
            log::error("connect", "--listen: '{}' is not a numeric ADDRESS:PORT", opts_.listen);
            exit_code_ = 2;
            request_stop();
            return false;
        }
        cc.vpn = *vpn;
        cc.listen = *listen;
        cc.timeout = std::chrono::seconds(opts_.timeout_s);
        for (const auto& s : opts_.stun_servers)
            if (auto e = resolve_host_port(s, err)) cc.stun_servers.push_back(*e);
        client_ = std::make_unique<ClientService>(loop_, *dht_, queue_, session_port(), cc,
                                                  [this](int code, const std::string&) {
                                                      exit_code_ = code;
                                                      request_stop();
                                                  });
        if (std::string e = client_->start(); !e.empty()) {
            log::error("connect", "{}", e);
            exit_code_ = 1;
            request_stop();
            return false;
        }
    }
    return true;
}

int Node::run() {
    if (std::string err = prepare_state_dir(opts_.state_dir); !err.empty()) {
        log::error("node", "{}", err);
        return 1;
    }
    if (!opts_.client) {
        auto kf = load_key_file(key_file_path(opts_.state_dir));
        if (!kf.key) {
            log::error("node", "{} (create one with `pave identity create`)", kf.error);
            return 1;
        }
        key_ = std::move(kf.key);
    }
    if (std::string err = open_ports(); !err.empty()) {
        log::error("node", "{}", err);
        return 1;
    }
    control_ = std::make_unique<ControlServer>(loop_);
    std::string sock = opts_.client ? connect_socket_path(opts_.state_dir) : node_socket_path(opts_.state_dir);
    if (std::string err = control_->open(sock, [this](const std::string& l, ControlServer::Reply r) {
            handle_command(l, std::move(r));
        });
        !err.empty()) {
        log::error("node", "{}", err);
        return 1;
    }
    if (opts_.bootstrap.empty())
        log::warn("node", "no bootstrap nodes: waiting for other nodes to contact this one");
    start_dht();
    log::info("node", "started: id {} dht {}{}{}", key_ ? node_id(key_->public_key()) : "(client)",
              dht_->node_id_hex(), port4_ ? " udp " + port4_->bound().to_string() : "",
              port6_ ? " udp " + port6_->bound().to_string() : "");

    uv_timer_init(loop_, &stop_timer_);
    stop_timer_.data = this;
    uv_check_init(loop_, &flush_check_);
    flush_check_.data = this;
    uv_check_start(&flush_check_, [](uv_check_t* c) {
        auto* self = static_cast<Node*>(c->data);
        if (self->stopping_) return;
        if (self->dht_) self->dht_->flush_received();
        if (self->relay_) self->relay_->flush_batches();
        if (self->client_) self->client_->flush_batches();
    });
    uv_timer_init(loop_, &tick_timer_);
    tick_timer_.data = this;
    uv_timer_start(&tick_timer_, [](uv_timer_t* t) { static_cast<Node*>(t->data)->on_tick(); }, 0,
                   opts_.client ? 100 : 1000);
    for (auto [sig, h] : {std::pair{SIGINT, &sigint_}, std::pair{SIGTERM, &sigterm_}}) {
        uv_signal_init(loop_, h);
        h->data = this;
        uv_signal_start(h, [](uv_signal_t* s, int) { static_cast<Node*>(s->data)->shutdown(); }, sig);
    }
    start_client();
    uv_run(loop_, UV_RUN_DEFAULT);
    uv_loop_close(loop_);
    return exit_code_;
}

}  // namespace

int run_node(const NodeOptions& opts) {
    std::signal(SIGPIPE, SIG_IGN);
    Node node(opts);
    return node.run();
}

}  // namespace pave
