#include "node/status_command.h"

#include <json/json.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "node/control_client.h"
#include "node/json_writer.h"
#include "node/run_program.h"
#include "node/state_dir.h"
#include "node/wg_state.h"

namespace pave {

namespace {

constexpr int kAskTimeoutMs = 3000;

// A JSON reply of a running process; null if it did not answer or the reply is not JSON.
Json::Value ask(const std::string& socket, const std::string& command) {
    ControlClient c;
    if (!c.open(socket).empty()) return Json::Value();
    std::string reply;
    if (!c.request(command, reply, kAskTimeoutMs)) return Json::Value();
    Json::CharReaderBuilder b;
    b["collectComments"] = false;
    std::unique_ptr<Json::CharReader> r(b.newCharReader());
    Json::Value v;
    std::string errs;
    if (!r->parse(reply.data(), reply.data() + reply.size(), &v, &errs) || !v.isObject()) return Json::Value();
    return v;
}

struct WgPeer {
    std::string endpoint;  // as WireGuard has it now (WireGuard moves it to where authenticated packets come from)
    std::optional<uint64_t> handshake_age_s;
    uint64_t rx = 0, tx = 0;
};

uint64_t number(const std::string& s) {
    uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

// `wg show IFACE dump`: the peer whose endpoint is `local` (PAVE's port), else the first peer.
std::optional<WgPeer> wg_peer(const std::string& iface, const std::string& local) {
    auto r = run_program({"wg", "show", iface, "dump"}, {}, true);
    if (r.status != 0) return std::nullopt;
    std::istringstream in(r.output);
    std::string line;
    std::getline(in, line);  // the interface's own line
    std::optional<WgPeer> first;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::istringstream ls(line);
        for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
        if (f.size() < 8) continue;
        WgPeer p;
        uint64_t hs = number(f[4]);
        if (hs) {
            auto now = uint64_t(std::time(nullptr));
            p.handshake_age_s = now > hs ? now - hs : 0;
        }
        p.endpoint = f[2];
        p.rx = number(f[5]);
        p.tx = number(f[6]);
        if (f[2] == local) return p;
        if (!first) first = p;
    }
    return first;
}

struct Process {
    std::string kind;    // "up", "attach", "node", "connect"
    std::string socket;
    WgState wg;          // for up/attach
    bool running = true;
    Json::Value status, sessions;
    std::optional<WgPeer> peer;
};

std::string bytes_text(uint64_t b) {
    char buf[32];
    if (b < 1024) std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)b);
    else if (b < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f KiB", double(b) / 1024);
    else if (b < 1024ull * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / 1024 / 1024);
    else std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / 1024 / 1024 / 1024);
    return buf;
}

std::string age_text(uint64_t s) {
    if (s < 120) return std::to_string(s) + " second" + (s == 1 ? "" : "s") + " ago";
    if (s < 7200) return std::to_string(s / 60) + " minutes ago";
    return std::to_string(s / 3600) + " hours ago";
}

const Json::Value& member(const Json::Value& v, const char* k) {
    static const Json::Value null;
    return v.isObject() && v.isMember(k) ? v[k] : null;
}

// A counter from a control socket's answer: 0 unless it is a non-negative integer (an answer
// from another version, or a stale socket, never aborts `pave status`).
uint64_t count_of(const Json::Value& v, const char* k) {
    const Json::Value& m = member(v, k);
    return m.isUInt64() ? m.asUInt64() : 0;
}

void json_string_or_null(JsonWriter& j, const char* k, const Json::Value& v) {
    if (v.isString()) j.field(k, v.asString());
    else j.key(k).null();
}

void json_relay_role(JsonWriter& j, const Process& p) {
    const Json::Value& relay = member(p.status, "relay");
    if (relay.isObject()) {
        j.key("relay_role").begin_object();
        j.field("sessions", count_of(relay, "sessions"));
        j.end_object();
    } else {
        j.key("relay_role").null();
    }
}

void json_client(JsonWriter& j, const Process& p) {
    const Json::Value& c = member(p.sessions, "client");
    const Json::Value& s = member(c, "session");
    j.key("vpn").begin_object();
    if (member(c, "vpn").isString()) j.field("endpoint", member(c, "vpn").asString());
    else if (!p.wg.vpn.empty()) j.field("endpoint", p.wg.vpn);
    else j.key("endpoint").null();
    if (member(c, "vpn_answered").isBool()) j.field("answered", member(c, "vpn_answered").asBool());
    else j.key("answered").null();
    j.end_object();
    json_string_or_null(j, "step", member(c, "step"));
    if (s.isObject() && member(s, "peer").isString()) {
        j.key("relay").begin_object();
        json_string_or_null(j, "id", member(s, "relay"));
        j.field("address", member(s, "peer").asString());
        json_string_or_null(j, "address_class", member(s, "peer_class"));
        if (member(s, "rtt_us").isUInt64()) j.field("rtt_us", uint64_t(member(s, "rtt_us").asUInt64()));
        else j.key("rtt_us").null();
        j.end_object();
    } else {
        j.key("relay").null();
    }
}

std::string json_overview(const std::vector<Process>& procs) {
    JsonWriter j;
    j.begin_object().field("schema", "pave.overview.v1").key("tunnels").begin_array();
    for (const auto& p : procs) {
        if (p.kind != "up" && p.kind != "attach") continue;
        j.begin_object().field("interface", p.wg.iface).field("mode", p.kind).field("pid", int64_t(p.wg.pid));
        j.field("running", p.running);
        if (!p.wg.config.empty()) j.field("config", p.wg.config);
        else j.key("config").null();
        if (!p.wg.local.empty()) j.field("local", p.wg.local);
        else j.key("local").null();
        json_client(j, p);
        if (p.peer) {
            j.key("wireguard").begin_object();
            if (p.peer->handshake_age_s) j.field("latest_handshake_age_s", *p.peer->handshake_age_s);
            else j.key("latest_handshake_age_s").null();
            j.field("rx_bytes", p.peer->rx).field("tx_bytes", p.peer->tx);
            j.field("endpoint", p.peer->endpoint).field("through_pave", p.peer->endpoint == p.wg.local).end_object();
        } else {
            j.key("wireguard").null();
        }
        json_relay_role(j, p);
        j.end_object();
    }
    j.end_array().key("nodes").begin_array();
    for (const auto& p : procs) {
        if (p.kind != "node" && p.kind != "connect") continue;
        j.begin_object().field("kind", p.kind).field("socket", p.socket);
        json_string_or_null(j, "id", member(p.status, "id"));
        const Json::Value& dht = member(p.status, "dht");
        if (member(dht, "connected").isBool()) j.field("dht_connected", member(dht, "connected").asBool());
        else j.key("dht_connected").null();
        if (p.kind == "connect") json_client(j, p);
        json_relay_role(j, p);
        j.end_object();
    }
    j.end_array().end_object();
    return j.str() + "\n";
}

void text_client(std::ostream& o, const Process& p) {
    const Json::Value& c = member(p.sessions, "client");
    const Json::Value& s = member(c, "session");
    std::string vpn = member(c, "vpn").isString() ? member(c, "vpn").asString() : p.wg.vpn;
    o << "  vpn: " << (vpn.empty() ? "?" : vpn);
    if (member(c, "vpn_answered").isBool())
        o << (member(c, "vpn_answered").isBool() && member(c, "vpn_answered").asBool() ? ", answered the handshake" : ", has not answered a handshake on this path");
    o << "\n";
    if (member(c, "step").isString()) o << "  step: " << member(c, "step").asString() << "\n";
    if (s.isObject() && member(s, "peer").isString()) {
        o << "  relay: " << (member(s, "relay").isString() ? member(s, "relay").asString() : "?") << " at a "
          << (member(s, "peer_class").isString() ? member(s, "peer_class").asString() : "?") << " address";
        if (member(s, "rtt_us").isUInt64()) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.1f", double(member(s, "rtt_us").asUInt64()) / 1000.0);
            o << ", rtt " << buf << " ms";
        }
        o << "\n";
    }
}

void text_relay_role(std::ostream& o, const Process& p) {
    const Json::Value& relay = member(p.status, "relay");
    if (relay.isObject()) o << "  relay role: " << count_of(relay, "sessions") << " session(s) for others\n";
    else if (p.status.isObject()) o << "  relay role: off\n";
}

std::string text_overview(const std::vector<Process>& procs) {
    std::ostringstream o;
    for (const auto& p : procs) {
        if (!o.str().empty()) o << "\n";
        if (p.kind == "up" || p.kind == "attach") {
            o << "interface: " << p.wg.iface << "\n";
            o << "  pave: wg " << p.kind << (p.wg.config.empty() ? "" : " " + p.wg.config) << ", pid " << p.wg.pid;
            if (!p.running) o << " NOT RUNNING (clean up with `pave wg " << (p.kind == "up" ? "down " + p.wg.config : "detach " + p.wg.iface) << "`)";
            else if (!p.status.isObject()) o << " (not answering)";
            o << "\n";
            if (!p.wg.local.empty()) o << "  local endpoint: " << p.wg.local << "\n";
            if (p.running) text_client(o, p);
            if (p.peer && p.peer->endpoint != p.wg.local)
                o << "  WARNING: WireGuard's peer endpoint is " << p.peer->endpoint
                  << ", not PAVE's port: it bypasses PAVE (WireGuard follows authenticated packets from a new "
                     "address; the VPN knew this host's address from before)\n";
            if (p.peer) {
                o << "  latest handshake: " << (p.peer->handshake_age_s ? age_text(*p.peer->handshake_age_s) : "none yet") << "\n";
                o << "  transfer: " << bytes_text(p.peer->rx) << " received, " << bytes_text(p.peer->tx) << " sent\n";
            }
            if (p.running) text_relay_role(o, p);
        } else {
            o << (p.kind == "node" ? "node" : "connect") << ": " << p.socket << "\n";
            if (member(p.status, "id").isString()) o << "  id: " << member(p.status, "id").asString() << "\n";
            const Json::Value& dht = member(p.status, "dht");
            if (member(dht, "connected").isBool())
                o << "  dht: " << (member(dht, "connected").isBool() && member(dht, "connected").asBool() ? "connected" : "not connected") << ", "
                  << count_of(dht, "good_nodes") << " good node(s)\n";
            if (p.kind == "connect") text_client(o, p);
            text_relay_role(o, p);
        }
    }
    if (procs.empty()) o << "PAVE is not running (no `pave wg up`, `pave node` or `pave connect` found)\n";
    return o.str();
}

}  // namespace

int run_status(const std::string& state_dir, bool json) {
    std::vector<Process> procs;
    int rc = 0;
    for (const auto& iface : wg_runtime_interfaces()) {
        std::string dir = wg_runtime_dir(iface), err;
        auto st = read_wg_state(dir, err);
        if (!st) continue;
        bool alive = pave_wg_process_alive(st->pid);
        // A live process whose interface is not here runs in another network namespace.
        if (alive && !interface_exists(st->iface)) continue;
        Process p;
        p.kind = st->mode;
        p.wg = *st;
        p.socket = wg_control_path(dir);
        p.running = alive;
        if (p.running) {
            p.status = ask(p.socket, "status --json");
            p.sessions = ask(p.socket, "sessions --json");
            if (!p.status.isObject()) rc = 1;
        } else {
            rc = 1;
        }
        if (interface_exists(st->iface)) p.peer = wg_peer(st->iface, st->local);
        procs.push_back(std::move(p));
    }
    for (auto [kind, path] : {std::pair<const char*, std::string>{"node", node_socket_path(state_dir)},
                              std::pair<const char*, std::string>{"connect", connect_socket_path(state_dir)}}) {
        if (access(path.c_str(), F_OK) != 0) continue;
        Process p;
        p.kind = kind;
        p.socket = path;
        p.status = ask(path, "status --json");
        if (!p.status.isObject()) continue;  // a socket left by a process that is gone
        p.sessions = ask(path, "sessions --json");
        procs.push_back(std::move(p));
    }
    std::cout << (json ? json_overview(procs) : text_overview(procs));
    return rc;
}

}  // namespace pave
