#include "node/node.h"

#include <netdb.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <memory>
#include <optional>
#include <sstream>

#include "crypto/hex.h"
#include "crypto/key_file.h"
#include "crypto/random.h"
#include "node/directory_feed.h"
#include "node/dht_role.h"
#include "relay/wire/endpoint_policy.h"
#include "dht/opendht/dht_node.h"
#include "node/candidates.h"
#include "node/client_service.h"
#include "node/command_registry.h"
#include "node/control_server.h"
#include "node/json_writer.h"
#include "node/log.h"
#include "node/loop_queue.h"
#include "node/relay_service.h"
#include "node/resolve.h"
#include "node/state_dir.h"
#include "node/udp_port.h"
#include "relay/rate_limiter.h"
#include "relay/reflector.h"
#include "relay/wire/stun.h"
#include "relay/stun_answerer.h"

namespace pave {

namespace {

// The relay role beside a client: its first announcement waits an exponentially distributed
// time (memoryless, so how long a relay has been announced says nothing about when its host's
// tunnel started), mean 15 minutes, cut at one hour.
constexpr double kRelayAnnounceDelayMean = 900;
constexpr uint32_t kRelayAnnounceDelayMax = 3600;
uint32_t random_announce_delay_s() {
    const double u = (double(random_below(1u << 30)) + 1.0) / double(1u << 30);  // (0, 1]
    return uint32_t(std::min<double>(-kRelayAnnounceDelayMean * std::log(u), kRelayAnnounceDelayMax));
}

using Clock = std::chrono::steady_clock;

std::string fmt_duration(uint64_t s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%luh%02lum%02lus", (unsigned long)(s / 3600), (unsigned long)(s / 60 % 60),
                  (unsigned long)(s % 60));
    return buf;
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
    // The relays this node knows: the client engine's (short gets) or, for `pave node`, the feed's.
    const Directory& directory() const;
    void bootstrap_if_needed();
    void handle_stun(ByteView data, const Endpoint& from, UdpPort& port);
    void handle_control(ByteView data, const Endpoint& from, UdpPort& port);
    void handle_wireguard(ByteView data, const Endpoint& from, UdpPort& port);
    void set_handlers(UdpPort& p);
    std::string open_relay_port();
    UdpPort& session_port() { return port4_ ? *port4_ : *port6_; }
    // The relay role's socket: its own beside a client role, else the session port.
    UdpPort& relay_port() { return relay_port_ ? *relay_port_ : session_port(); }
    // Which role a datagram on `p` is for, when both run (each has its own socket).
    bool for_relay(const UdpPort& p) const { return !relay_port_ || &p == relay_port_.get(); }
    bool for_client(const UdpPort& p) const { return !relay_port_ || &p != relay_port_.get(); }
    std::vector<Endpoint> own_candidates();
    void refresh_stun_servers(Clock::time_point now);
    void update_dht_role();
    bool dht_role_known_ = false;
    void register_commands();
    void handle_command(const std::string& line, ControlServer::Reply reply);
    std::string cmd_status(bool json);
    std::string cmd_relays(bool json);
    std::string cmd_stats(bool json);
    void cmd_dht_get(const std::string& key, ControlServer::Reply reply);
    void cmd_dht_put(const std::string& key, const std::string& text, ControlServer::Reply reply);
    void shutdown();
    void request_stop();  // shutdown from the next loop iteration (safe inside callbacks)
    void on_stop_signal();  // SIGINT/SIGTERM: a relay drains its sessions first
    bool start_client();

    NodeOptions opts_;
    uv_loop_t* loop_;
    LoopQueue queue_;
    std::optional<Ed25519Key> key_;
    std::unique_ptr<UdpPort> port4_, port6_;
    std::unique_ptr<UdpPort> relay_port_;  // the relay role beside a client role
    std::unique_ptr<DhtNode> dht_;
    std::unique_ptr<DirectoryFeed> feed_;
    std::unique_ptr<Reflector> reflector_;
    std::unique_ptr<RelayService> relay_;
    std::unique_ptr<ClientService> client_;
    Clock::time_point last_reflect_{};
    // --stun servers resolved off the loop thread (uv_getaddrinfo), one slot per server, kept
    // between re-resolutions (every kStunResolveEvery, or kStunRetryEvery while one fails).
    static constexpr std::chrono::minutes kStunResolveEvery{10};
    static constexpr std::chrono::seconds kStunRetryEvery{30};
    std::vector<std::optional<Endpoint>> stun_servers_;
    Clock::time_point stun_resolved_at_{};
    size_t stun_resolving_ = 0;
    bool stun_failed_ = false;
    CommandRegistry commands_;
    uint64_t control_unmatched_ = 0, wireguard_unmatched_ = 0;
    std::unique_ptr<ControlServer> control_;
    uv_timer_t tick_timer_{};
    uv_check_t flush_check_{};
    uv_timer_t stop_timer_{};
    // Fires kDhtJoinFallback after the DHT connects, unless its join ended first: the directory
    // feed and the relay begin their searches (on_dht_joined).
    uv_timer_t join_timer_{};
    void on_dht_joined();
    uv_signal_t sigint_{}, sigterm_{};
    Clock::time_point started_ = Clock::now();
    Clock::time_point last_bootstrap_{};
    unsigned bootstrap_retries_ = 0;
    // STUN answers of a node without the relay role (a relay's engine answers its own).
    StunAnswerer stun_;
    bool stopping_ = false;
    bool draining_ = false;  // relay sessions closed, carrying what is in flight until shutdown()
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
    for (UdpPort* p : {port4_.get(), port6_.get()})
        if (p) set_handlers(*p);
    return "";
}

void Node::set_handlers(UdpPort& port) {
    UdpPort* p = &port;
    p->set_handler(PacketKind::dht, [this](ByteView d, const Endpoint& from) {
        if (dht_) dht_->deliver(d, from);
    });
    p->set_handler(PacketKind::stun, [this, p](ByteView d, const Endpoint& from) { handle_stun(d, from, *p); });
    p->set_handler(PacketKind::control, [this, p](ByteView d, const Endpoint& from) { handle_control(d, from, *p); });
    p->set_handler(PacketKind::rendezvous, [this, p](ByteView d, const Endpoint& from) { handle_control(d, from, *p); });
    p->set_handler(PacketKind::wireguard, [this, p](ByteView d, const Endpoint& from) { handle_wireguard(d, from, *p); });
}

// The relay role beside a client role gets a socket of its own (the session port's family and
// address, any free port, the same fwmark), so that the two roles' traffic does not share a port.
std::string Node::open_relay_port() {
    Endpoint b = session_port().bound();
    b.set_port(0);
    relay_port_ = std::make_unique<UdpPort>(loop_);
    if (std::string err = relay_port_->open(b, opts_.fwmark); !err.empty()) {
        relay_port_.reset();
        return "relay role: " + err;
    }
    set_handlers(*relay_port_);
    return "";
}

void Node::handle_control(ByteView data, const Endpoint& from, UdpPort& port) {
    if (relay_ && for_relay(port) && relay_->on_control(data, from)) return;
    if (client_ && for_client(port) && client_->on_control(data, from)) return;
    ++control_unmatched_;
}

void Node::handle_wireguard(ByteView data, const Endpoint& from, UdpPort& port) {
    bool taken = relay_ && for_relay(port) ? relay_->on_wireguard(data, from)
                                           : client_ && for_client(port) && client_->on_wireguard(data, from);
    if (!taken) ++wireguard_unmatched_;
}

std::vector<Endpoint> Node::own_candidates() {
    return gather_candidates(relay_port().bound(), reflector_ ? reflector_->mapped() : std::nullopt, 8);
}

void Node::handle_stun(ByteView data, const Endpoint& from, UdpPort& port) {
    if (client_ && &port == &session_port() && client_->on_stun(data, from)) return;
    if (reflector_ && &port == &relay_port() && reflector_->on_stun(data, from)) return;
    if (relay_ && for_relay(port)) return relay_->on_stun(data, from, port);
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
    uv_timer_init(loop_, &join_timer_);
    join_timer_.data = this;
    o.on_connected = [this] {
        queue_.post([this] {
            if (stopping_) return;
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(kDhtJoinFallback).count() + 1;
            uv_timer_start(&join_timer_, [](uv_timer_t* t) { static_cast<Node*>(t->data)->on_dht_joined(); },
                           uint64_t(ms), 0);
        });
    };
    o.on_joined = [this] {
        queue_.post([this] {
            if (stopping_) return;
            uv_timer_stop(&join_timer_);
            on_dht_joined();
        });
    };
    o.client = opts_.client;
    // OpenDHT names peers by address in its lines; PAVE logs no peer address unless asked to.
    o.log = [](bool warning, const std::string& line) {
        const std::string shown = log::show_addresses() ? line : log::redact_addresses(line);
        if (warning)
            log::warn("opendht", "{}", shown);
        else
            log::debug("opendht", "{}", shown);
    };
    dht_ = std::make_unique<DhtNode>(o);
    std::optional<Ed25519Public> self;
    if (key_) self = key_->public_key();
    feed_ = std::make_unique<DirectoryFeed>(*dht_, queue_, self);  // listens once the DHT is ready (on_tick)
    reflector_ = std::make_unique<Reflector>(relay_port().bound().family(), [p = &relay_port()](const Endpoint& to, ByteView d) {
        p->send_guarded(d, to, AmplificationGuard::Traffic::request);
    });
    if (opts_.relay && key_) {
        RelayConfig rc;
        rc.presence_ttl_s = opts_.presence_ttl_s;
        rc.capacity = opts_.capacity;
        rc.allow_private_endpoints = opts_.allow_private_endpoints;
        rc.fwmark = opts_.fwmark;
        if (opts_.client) {
            rc.announce_delay_s = opts_.relay_announce_delay_s.value_or(random_announce_delay_s());
            rc.withdraw_on_shutdown = false;
            if (rc.announce_delay_s > 0)
                log::info("node", "relay role: first announcement in {} s (random, so that it does not mark this tunnel's start)",
                          rc.announce_delay_s);
        }
        std::vector<Endpoint> own;
        for (UdpPort* p : {port4_.get(), port6_.get(), relay_port_.get()})
            if (p) own.push_back(p->bound());
        relay_ = std::make_unique<RelayService>(loop_, *dht_, queue_, *key_, relay_port(), rc,
                                                [this] { return own_candidates(); }, own);
    }
    update_dht_role();  // before the first DHT message
    bootstrap_if_needed();
}

void Node::on_dht_joined() {
    if (stopping_ || !dht_->ready()) return;  // lost again meanwhile: the next connection restarts the timer
    if (!opts_.client && !feed_->started()) feed_->start();
    if (relay_) relay_->dht_joined();
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
    for (UdpPort* p : {port4_.get(), port6_.get(), relay_port_.get()})
        if (p) p->tick();
    // Only `pave node` listens on directory keys: a client reads them with short gets (its
    // engine's directory is what `relays` shows), so storers next to them learn no client's
    // address for as long as it runs (README, "Reading the directory").
    if (!opts_.client && !feed_->started() && dht_->ready()) feed_->start();
    feed_->tick(now);
    if (client_) client_->tick();
    if (relay_) refresh_stun_servers(Clock::now());
    if (relay_) {
        // Keep learning the relay's public address from the DHT peers it knows (PAVE nodes answer STUN).
        auto t = Clock::now();
        if (reflector_->answers() < 2 && t - last_reflect_ > std::chrono::seconds(2)) {
            last_reflect_ = t;
            std::vector<Endpoint> refl;
            for (const auto& e : stun_servers_)
                if (e) refl.push_back(*e);
            for (const auto& n : dht_->known_nodes(8)) refl.push_back(n);
            reflector_->probe(refl, t);
        }
    }
    update_dht_role();
    bootstrap_if_needed();
}

void Node::update_dht_role() {
    // node/dht_role.h: a relay behind a NAT is a DHT client. The client role always is one.
    if (opts_.client) return;
    const Endpoint bound = relay_port().bound();
    std::vector<Endpoint> hosts;
    if (classify_address(bound) == EndpointVerdict::unspecified) hosts = host_addresses();
    const DhtRole role = judge_dht_role(bound, hosts, reflector_ ? reflector_->mapped() : std::nullopt);
    const bool client = role == DhtRole::client;
    if (dht_role_known_ && dht_->client_mode() == client) return;
    dht_role_known_ = true;
    dht_->set_client_mode(client);
    log::info("dht", "{}", client ? "DHT client mode: this host is reached only through a NAT, so peers keep it out of "
                                    "their routing tables (its own DHT requests work as before)"
                                  : "full DHT node: reachable at its own address");
}

void Node::refresh_stun_servers(Clock::time_point now) {
    if (opts_.stun_servers.empty() || stun_resolving_ > 0 || stopping_) return;
    if (stun_resolved_at_ != Clock::time_point{} &&
        now - stun_resolved_at_ < (stun_failed_ ? std::chrono::duration_cast<Clock::duration>(kStunRetryEvery)
                                                : std::chrono::duration_cast<Clock::duration>(kStunResolveEvery)))
        return;
    stun_resolved_at_ = now;
    stun_failed_ = false;
    stun_servers_.resize(opts_.stun_servers.size());
    stun_resolving_ = opts_.stun_servers.size();
    for (size_t i = 0; i < opts_.stun_servers.size(); ++i) {
        resolve_host_port_async(loop_, opts_.stun_servers[i], [this, i](std::optional<Endpoint> e, const std::string& err) {
            --stun_resolving_;
            if (stopping_) return;
            if (e) {
                stun_servers_[i] = e;  // a failed re-resolution keeps the last address
            } else {
                stun_failed_ = true;
                log::debug("node", "--stun {}: {}", opts_.stun_servers[i], err);
            }
        });
    }
}

// Machine-readable output: `status --json`, `relays --json`, `stats --json`, `sessions --json` each reply with
// one JSON object whose "schema" names its layout; fields are only ever added to a schema.
//   pave.status.v1  id (string: the relay identity, null for a client without the relay role),
//                   roles (array of "relay", "client"), bound (array of "addr:port"),
//                   relay_bound (the relay role's own socket beside a client, or null), network (number), dht {connected (bool), ipv4, ipv6 (OpenDHT's
//                   state words), good_nodes, dubious_nodes (numbers), id (hex), bootstrap_nodes},
//                   relays_known, relay (null, or {bucket, publications, inbox_key (hex, shard 0),
//                   inbox_keys (hex, every shard of the current period),
//                   sessions}), stun {answered, rate_limited, over_budget}, public_address (null,
//                   or {address (string or null), reflectors, nat_mapping}), client_step (string
//                   or null), uptime_s
//   pave.relays.v1  relays: array of {id, bucket, capacity, expires_in_s}
//   pave.stats.v1   counters: object, counter name to number (the same names and values as
//                   the text form, one "name value" per line)
//   pave.sessions.v1  relay (null, or {sessions: array of {id, state, peer, vpn, rtt_us,
//                   frames_in, frames_out, rebinds, wg_to_vpn_packets/bytes, wg_to_client_packets/
//                   bytes, unlocked, drops {name: number}}, intake {name: number}, slots
//                   {established, capacity, pending, pending_budget, probe_bytes_unanswered,
//                   probe_limited}}), client (null, or {step, attempts, vpn ("addr:port"),
//                   vpn_answered (bool: the VPN answered WireGuard's handshake on this path),
//                   offers..., counters, session (null or {id, state, relay, peer, peer_class
//                   ("public", or the address class: private_rfc1918, cgnat, loopback, ...),
//                   rtt_us, frames_in, frames_out, rebinds, drops})})
std::string Node::cmd_status(bool json) {
    auto st = dht_->status();
    // The client's engine learns the client's public address; the node's reflector the relay's.
    const Reflector* refl = client_ ? &client_->engine().reflector() : reflector_.get();
    auto up = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
    // "connected" only with at least one peer that answers; an unreachable bootstrap leaves
    // OpenDHT "connecting" forever, which the user should read as disconnected.
    bool dht_up = st.connected() && st.good4 + st.good6 > 0;
    const StunAnswerer& stun = relay_ ? relay_->stun() : stun_;
    const uint64_t relays_known = directory().live(unix_now()).size();
    if (json) {
        JsonWriter j;
        j.begin_object().field("schema", "pave.status.v1");
        if (key_) j.field("id", node_id(key_->public_key()));
        else j.key("id").null();
        j.key("roles").begin_array();
        if (relay_) j.value("relay");
        if (opts_.client) j.value("client");
        j.end_array();
        j.key("bound").begin_array();
        for (UdpPort* p : {port4_.get(), port6_.get()})
            if (p) j.value(p->bound().to_string());
        j.end_array();
        if (relay_port_) j.field("relay_bound", relay_port_->bound().to_string());
        else j.key("relay_bound").null();
        j.field("network", uint64_t(opts_.network_id));
        j.key("dht").begin_object().field("connected", dht_up).field("ipv4", st.v4).field("ipv6", st.v6);
        j.field("good_nodes", uint64_t(st.good4 + st.good6)).field("dubious_nodes", uint64_t(st.dubious4 + st.dubious6));
        j.field("id", dht_->node_id_hex()).field("bootstrap_nodes", uint64_t(opts_.bootstrap.size())).end_object();
        j.field("relays_known", relays_known);
        if (relay_) {
            j.key("relay").begin_object().field("bucket", uint64_t(relay_->bucket()));
            j.field("publications", uint64_t(relay_->publications()));
            const auto inbox = relay_->current_inbox_keys(unix_now());
            j.field("inbox_key", to_hex(inbox.front()));
            j.key("inbox_keys").begin_array();
            for (const auto& k : inbox) j.value(to_hex(k));
            j.end_array();
            j.field("sessions", uint64_t(relay_->session_count())).end_object();
        } else {
            j.key("relay").null();
        }
        j.key("stun").begin_object().field("answered", uint64_t(stun.answered()));
        j.field("rate_limited", uint64_t(stun.rate_limited())).field("over_budget", uint64_t(stun.over_budget()));
        j.end_object();
        if (refl) {
            auto m = refl->mapped();
            j.key("public_address").begin_object();
            if (m) j.field("address", m->to_string());
            else j.key("address").null();
            j.field("reflectors", uint64_t(refl->answers()));
            j.field("nat_mapping", nat_mapping_name(refl->mapping())).end_object();
        } else {
            j.key("public_address").null();
        }
        if (client_) j.field("client_step", ClientService::to_string(client_->step()));
        else j.key("client_step").null();
        j.field("uptime_s", uint64_t(up)).end_object();
        return j.str() + "\n";
    }
    std::ostringstream o;
    o << "id " << (key_ ? node_id(key_->public_key()) : std::string("(client role: no identity)")) << "\n";
    o << "role " << (relay_ ? "relay" : "no-relay") << (opts_.client ? " client" : "") << "\n";
    for (UdpPort* p : {port4_.get(), port6_.get()})
        if (p) o << "bound " << p->bound().to_string() << "\n";
    if (relay_port_) o << "relay_bound " << relay_port_->bound().to_string() << "\n";
    o << "network " << opts_.network_id << "\n";
    o << "dht " << (dht_up ? "connected" : "disconnected") << " ipv4=" << st.v4 << " ipv6=" << st.v6;
    if (!dht_up && !opts_.bootstrap.empty()) o << " (retrying " << opts_.bootstrap.size() << " bootstrap node(s))";
    o << "\n";
    o << "dht_nodes " << (st.good4 + st.good6) << " good, " << (st.dubious4 + st.dubious6) << " dubious\n";
    o << "dht_id " << dht_->node_id_hex() << "\n";
    o << "relays_known " << relays_known << "\n";
    if (relay_) {
        o << "bucket " << relay_->bucket() << " publications " << relay_->publications() << "\n";
        o << "inbox_key " << to_hex(relay_->current_inbox_keys(unix_now()).front()) << " (shard 0 of "
          << kInboxShards << ")\n";
    }
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

const Directory& Node::directory() const {
    return client_ ? client_->engine().directory() : feed_->directory();
}

std::string Node::cmd_relays(bool json) {
    uint64_t now = unix_now();
    auto relays = directory().live(now);
    if (json) {
        JsonWriter j;
        j.begin_object().field("schema", "pave.relays.v1").key("relays").begin_array();
        for (const auto& r : relays)
            j.begin_object()
                .field("id", node_id(r.node_pub))
                .field("bucket", uint64_t(r.bucket))
                .field("capacity", uint64_t(r.capacity))
                .field("expires_in_s", int64_t(r.expires) - int64_t(now))
                .end_object();
        j.end_array().end_object();
        return j.str() + "\n";
    }
    std::ostringstream o;
    o << "# " << relays.size() << " relay(s)\n";
    for (const auto& r : relays)
        o << node_id(r.node_pub) << " bucket=" << r.bucket << " capacity=" << r.capacity
          << " expires_in=" << (r.expires - now) << "s\n";
    return o.str();
}

std::string Node::cmd_stats(bool json) {
    std::vector<std::pair<std::string, uint64_t>> c;
    const Directory& d = directory();
    c.emplace_back("values_seen", feed_->values_seen());
    c.emplace_back("judge_cpu_us", feed_->judge_cpu_ns() / 1000);
    for (size_t v = 0; v < size_t(Directory::Verdict::count_); ++v)
        c.emplace_back(std::string("directory_") + Directory::to_string(Directory::Verdict(v)),
                       d.count(Directory::Verdict(v)));
    for (UdpPort* p : {port4_.get(), port6_.get(), relay_port_.get()}) {
        if (!p) continue;
        std::string f = std::string(p == relay_port_.get() ? "relay_" : "") + (p->bound().family() == AF_INET ? "udp4_" : "udp6_");
        for (auto k : {PacketKind::dht, PacketKind::stun, PacketKind::control, PacketKind::wireguard,
                       PacketKind::address_check, PacketKind::rendezvous, PacketKind::unknown})
            c.emplace_back(f + "rx_" + packet_kind_name(k), p->received(k));
        c.emplace_back(f + "send_errors", p->send_errors());
        const AmplificationGuard& g = p->guard();
        for (size_t i = 0; i < size_t(AmplificationGuard::Counter::count_); ++i)
            c.emplace_back(f + "guard_" + AmplificationGuard::to_string(AmplificationGuard::Counter(i)),
                           g.count(AmplificationGuard::Counter(i)));
        c.emplace_back(f + "guard_addresses", g.entries());
        c.emplace_back(f + "guard_held_bytes", g.held_bytes());
        c.emplace_back(f + "address_checks_malformed", p->address_checks_malformed());
    }
    c.emplace_back("dropped_control_unknown_session", control_unmatched_);
    c.emplace_back("dropped_wireguard_no_session", wireguard_unmatched_);
    c.emplace_back("loop_queue_dropped", queue_.dropped());
    if (json) {
        JsonWriter j;
        j.begin_object().field("schema", "pave.stats.v1").key("counters").begin_object();
        for (const auto& [name, value] : c) j.field(name, value);
        j.end_object().end_object();
        return j.str() + "\n";
    }
    std::ostringstream o;
    for (const auto& [name, value] : c) o << name << " " << value << "\n";
    return o.str();
}

void Node::cmd_dht_get(const std::string& key, ControlServer::Reply reply) {
    auto collected = std::make_shared<std::vector<Bytes>>();
    dht_->get(
        parse_user_key(key),
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
}

void Node::cmd_dht_put(const std::string& key, const std::string& text, ControlServer::Reply reply) {
    Bytes value(text.begin(), text.end());
    if (text.rfind("hex:", 0) == 0) {
        auto b = from_hex(text.substr(4));
        if (!b) return reply("error: VALUE after hex: is not hex\n");
        value = *b;
    }
    dht_->put(parse_user_key(key), std::move(value), [this, reply](bool ok) {
        queue_.post([reply, ok] { reply(ok ? "ok\n" : "error: put was not confirmed by any storer\n"); });
    });
}

void Node::register_commands() {
    using Args = CommandRegistry::Args;
    using Reply = CommandRegistry::Reply;
    const size_t any = size_t(-1);  // these commands ignore words other than --json
    auto json = [](const Args& a) { return CommandRegistry::has_flag(a, "--json"); };
    commands_.add({"status", "status [--json]", "node id, bound addresses, DHT connectivity and node count, uptime", 0,
                   any, false, [this, json](const Args& a, Reply r) { r(cmd_status(json(a))); }});
    commands_.add({"relays", "relays [--json]",
                   "the relay directory as seen now, one relay per line (node id first)", 0, any, false,
                   [this, json](const Args& a, Reply r) { r(cmd_relays(json(a))); }});
    commands_.add({"sessions", "sessions [--json]", "relay and client sessions", 0, any, false,
                   [this, json](const Args& a, Reply r) {
                       if (json(a)) {
                           JsonWriter j;
                           j.begin_object().field("schema", "pave.sessions.v1");
                           if (relay_) relay_->sessions_json(j);
                           else j.key("relay").null();
                           if (client_) client_->sessions_json(j);
                           else j.key("client").null();
                           j.end_object();
                           return r(j.str() + "\n");
                       }
                       std::string out;
                       if (relay_) out += relay_->sessions_text();
                       if (client_) out += client_->sessions_text();
                       if (!relay_ && !client_) out = "# no sessions (relay off)\n";
                       r(out);
                   }});
    commands_.add({"stats", "stats [--json]", "directory verdict, packet, guard and drop counters", 0, any, false,
                   [this, json](const Args& a, Reply r) { r(cmd_stats(json(a))); }});
    commands_.add({"dht get", "dht get KEY", "values stored at KEY (40 hex digits, or a string to hash)", 1, 1, false,
                   [this](const Args& a, Reply r) { cmd_dht_get(a[0], std::move(r)); }});
    commands_.add({"dht put", "dht put KEY VALUE", "put VALUE (text, or hex:HEX) at KEY under a fresh value id", 2, 2,
                   true, [this](const Args& a, Reply r) { cmd_dht_put(a[0], a[1], std::move(r)); }});
    commands_.add({"dht export", "dht export", "hex of every value this node stores", 0, 0, false,
                   [this](const Args&, Reply r) {
                       std::ostringstream o;
                       for (const auto& v : dht_->export_values()) o << to_hex(v.key) << " " << to_hex(v.data) << "\n";
                       r(o.str());
                   }});
    commands_.add({"help", "help", "this list", 0, any, false, [this](const Args&, Reply r) { r(commands_.help()); }});
    // Handled by the interactive shell itself; listed here so that help names it.
    commands_.add({"quit", "quit", "leave the shell", 0, any, false, [](const Args&, Reply r) { r(""); }});
}

void Node::handle_command(const std::string& line, ControlServer::Reply reply) {
    if (line.find_first_not_of(' ') == std::string::npos) return reply("");
    if (!commands_.dispatch(line, reply)) reply("error: unknown command '" + line + "' (try help)\n");
}

void Node::request_stop() {
    uv_timer_start(&stop_timer_, [](uv_timer_t* t) { static_cast<Node*>(t->data)->shutdown(); }, 0, 0);
}

void Node::on_stop_signal() {
    // A relay with sessions first tells its clients (CLOSE) and carries WireGuard a moment
    // longer (RelayEngine::drain), so they move to their standby without losing what is in
    // flight; a second signal stops at once.
    if (!stopping_ && !draining_ && relay_ && relay_->drain()) {
        draining_ = true;
        log::info("node", "stopping: sessions closed, carrying what is in flight for {} ms",
                  std::chrono::milliseconds(RelayEngine::kDrainGrace).count());
        uv_timer_start(&stop_timer_, [](uv_timer_t* t) { static_cast<Node*>(t->data)->shutdown(); },
                       uint64_t(std::chrono::milliseconds(RelayEngine::kDrainGrace).count()), 0);
        return;
    }
    shutdown();
}

void Node::shutdown() {
    if (stopping_) return;
    stopping_ = true;
    log::info("node", "stopping");
    if (relay_) relay_->close_sessions();  // clients learn at once, before the DHT's slow stop
    if (dht_) dht_->stop();  // joins OpenDHT's threads: no callback runs after this
    queue_.close();
    client_.reset();
    relay_.reset();
    if (control_) control_->close();
    if (port4_) port4_->close();
    if (port6_) port6_->close();
    if (relay_port_) relay_port_->close();
    uv_timer_stop(&stop_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer_), nullptr);
    uv_check_stop(&flush_check_);
    uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
    uv_timer_stop(&tick_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), nullptr);
    uv_timer_stop(&join_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&join_timer_), nullptr);
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
        cc.standby = opts_.standby;
        cc.guards = opts_.guards;
        cc.min_relay_age_s = opts_.min_relay_age_s;
        cc.state_dir = opts_.state_dir;
        for (const auto& s : opts_.stun_servers)
            if (auto e = resolve_host_port(s, err)) cc.stun_servers.push_back(*e);
        if (relay_) cc.own_relay = key_->public_key();
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
        if (opts_.on_listening)
            if (std::string e = opts_.on_listening(client_->local_address().to_string()); !e.empty()) {
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
    } else if (opts_.relay) {
        // The relay role beside a client gets a fresh identity each run, never stored: a relay
        // that meets this host as a client sees its address, and could find this relay role at
        // the same address, but cannot follow the identity to the next network or run (README).
        key_ = Ed25519Key::generate();
    }
    if (std::string err = open_ports(); !err.empty()) {
        log::error("node", "{}", err);
        return 1;
    }
    if (opts_.client && opts_.relay)
        if (std::string err = open_relay_port(); !err.empty()) {
            log::error("node", "{}", err);
            return 1;
        }
    register_commands();
    control_ = std::make_unique<ControlServer>(loop_);
    std::string sock = !opts_.control_socket.empty() ? opts_.control_socket
                       : opts_.client                ? connect_socket_path(opts_.state_dir)
                                                     : node_socket_path(opts_.state_dir);
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
        uv_signal_start(h, [](uv_signal_t* s, int) { static_cast<Node*>(s->data)->on_stop_signal(); }, sig);
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
