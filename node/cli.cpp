#include "node/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <iostream>

#include "crypto/key_file.h"
#include "node/candidates.h"
#include "node/config/host_port.h"
#include "relay/wire/endpoint.h"
#include "node/log.h"
#include "node/node.h"
#include "node/shell.h"
#include "node/state_dir.h"
#include "node/status_command.h"
#include "node/stun_probe.h"
#include "node/wg_command.h"
#include "crypto/hex.h"

#ifndef PAVE_VERSION
#error "PAVE_VERSION is set by meson.build (the project version)"
#endif

namespace pave {

namespace {

// "30s", "10m", "1h" or plain seconds.
std::optional<uint32_t> parse_duration(const std::string& s) {
    if (s.empty()) return std::nullopt;
    uint64_t mult = 1;
    std::string num = s;
    switch (s.back()) {
        case 's': num.pop_back(); break;
        case 'm': mult = 60; num.pop_back(); break;
        case 'h': mult = 3600; num.pop_back(); break;
        default: break;
    }
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec != std::errc() || p != num.data() + num.size() || num.empty() || v == 0 || v * mult > 86400 * 7)
        return std::nullopt;
    return uint32_t(v * mult);
}

// As parse_duration, and also "0" (with or without a unit).
std::optional<uint32_t> parse_duration_or_zero(const std::string& s) {
    const bool zero = !s.empty() && s.find_first_not_of('0') == std::string::npos;
    const bool zero_unit = s.size() >= 2 && s.find_first_not_of('0') == s.size() - 1 &&
                           std::string("smh").find(s.back()) != std::string::npos;
    return zero || zero_unit ? std::optional<uint32_t>(0) : parse_duration(s);
}

// --relay-announce-delay: "" leaves the node's random default.
bool set_announce_delay(const std::string& text, NodeOptions& o) {
    if (text.empty()) return true;
    auto d = parse_duration_or_zero(text);
    if (!d || *d > 86400) {
        std::cerr << "pave: error: invalid --relay-announce-delay '" << text << "' (e.g. 0, 30s, 15m; at most 24h)\n";
        return false;
    }
    o.relay_announce_delay_s = *d;
    return true;
}

struct DurationOpt {
    std::string text;
    uint32_t* out;
    const char* name;
};

// OpenDHT's default port, for a --bootstrap HOST given without one.
constexpr uint16_t kDefaultBootstrapPort = 4222;

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string command_list(CLI::App* app) {
    std::string out;
    for (CLI::App* s : app->get_subcommands([](CLI::App*) { return true; })) out += (out.empty() ? "" : ", ") + s->get_name();
    return out;
}

// After a failed parse: if the first word that is neither an option nor an option's value is
// not a subcommand where one is expected, names it and suggests the closest ones. With
// `missing`, a command left out is named too.
std::string unknown_command(CLI::App& app, int argc, char** argv, bool missing) {
    CLI::App* cur = &app;
    std::string path = "pave";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") break;
        if (a.size() > 1 && a[0] == '-') {
            if (a.find('=') != std::string::npos) continue;
            const CLI::Option* opt = nullptr;
            for (CLI::App* p = cur; p && !opt; p = p->get_parent()) opt = p->get_option_no_throw(a);
            if (opt && opt->get_type_size_max() > 0) ++i;  // skip its value
            continue;
        }
        auto subs = cur->get_subcommands([](CLI::App*) { return true; });
        if (subs.empty()) break;  // a positional argument
        auto it = std::find_if(subs.begin(), subs.end(), [&](CLI::App* s) { return s->check_name(a); });
        if (it != subs.end()) {
            cur = *it;
            path += " " + cur->get_name();
            continue;
        }
        std::vector<std::pair<size_t, std::string>> near;
        for (CLI::App* s : subs) {
            const std::string& n = s->get_name();
            size_t d = edit_distance(a, n);
            bool prefix = a.size() >= 2 && n.compare(0, a.size(), a) == 0;
            if (prefix) d = 0;
            if (d <= std::max<size_t>(2, n.size() / 3)) near.emplace_back(d, n);
        }
        std::sort(near.begin(), near.end());
        std::string msg = "unknown command '" + a + "'";
        if (path != "pave") msg += " for '" + path + "'";
        for (size_t k = 0; k < near.size() && k < 2; ++k) msg += (k == 0 ? ", did you mean '" : "' or '") + near[k].second;
        if (!near.empty()) msg += "'?";
        return msg + " (see " + path + " --help)";
    }
    if (missing && !cur->get_subcommands([](CLI::App*) { return true; }).empty())
        return "'" + path + "' needs a command: " + command_list(cur) + " (see " + path + " --help)";
    return "";
}

// Checks what can be checked before anything starts (no name is resolved here): returns ""
// or a usage error. Normalises --bootstrap entries to HOST:PORT.
std::string check_node_options(NodeOptions& o) {
    std::string err;
    for (auto& b : o.bootstrap) {
        auto hp = parse_host_port(b, kDefaultBootstrapPort, err);
        if (!hp) return "invalid --bootstrap '" + b + "': " + err + " (expected HOST[:PORT]; port 4222 if left out)";
        b = hp->text();
    }
    for (const auto& s : o.stun_servers)
        if (!parse_host_port(s, 0, err)) return "invalid --stun '" + s + "': " + err;
    if (o.client) {
        if (!parse_host_port(o.vpn, 0, err))
            return "invalid --vpn '" + o.vpn + "': " + err + " (e.g. vpn.example.net:51820 or [2001:db8::1]:51820)";
        auto l = Endpoint::parse(o.listen);
        if (!l || l->port() == 0)
            return "invalid --listen '" + o.listen + "': expected a numeric ADDRESS:PORT with a fixed port, e.g. 127.0.0.1:51821";
    }
    return "";
}

// What every running role shares (node, connect, wg up/attach): the state dir, the relay role,
// the client's --timeout (timeout_text null: no client), the announce delay, the public bootstrap
// when no network is named; then the whole set is checked. False after printing the error.
bool finish_options(NodeOptions& o, const std::string& state_dir, bool no_relay, const std::string* timeout_text,
                    const std::string& announce_delay_text) {
    o.state_dir = state_dir;
    o.relay = !no_relay;
    if (timeout_text) {
        auto t = parse_duration(*timeout_text);
        if (!t) {
            std::cerr << "pave: error: invalid --timeout '" << *timeout_text << "' (e.g. 20s)\n";
            return false;
        }
        o.timeout_s = *t;
    }
    if (!set_announce_delay(announce_delay_text, o)) return false;
    if (o.bootstrap.empty() && o.network_id == 0) o.bootstrap.push_back(kPublicBootstrap);
    if (std::string err = check_node_options(o); !err.empty()) {
        std::cerr << "pave: error: " << err << "\n";
        return false;
    }
    return true;
}

void add_node_flags(CLI::App* sub, NodeOptions& o, std::string& ttl_text) {
    sub->add_option("--bootstrap", o.bootstrap,
                    std::string("DHT bootstrap node HOST[:PORT], port 4222 if left out (repeatable; default: ") +
                        kPublicBootstrap + " on the public network, none on a private one)")
        ->allow_extra_args(false);
    sub->add_option("--bind", o.bind, "numeric address to bind (repeatable: one IPv4 and/or one IPv6; default: all, both families)")
        ->allow_extra_args(false);
    sub->add_option("--port", o.port, "UDP port (default: 0, any free port)");
    sub->add_option("--network-id", o.network_id, "DHT network id (default: 0, the public OpenDHT network)");
    sub->add_option("--stun", o.stun_servers, "extra STUN server HOST:PORT to learn the public address (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--fwmark", o.fwmark, "firewall mark for PAVE's sockets, to route them outside a full tunnel (default: 0, none)");
    sub->add_flag("--dht-log", o.dht_verbose, "pass OpenDHT's debug log through (with --log-level debug)");
    (void)ttl_text;
}

}  // namespace

int run_cli(int argc, char** argv) {
    CLI::App app{"PAVE: Peer-Anonymized VPN Entry. A WireGuard client reaches its VPN through a random peer.", "pave"};
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", "pave " PAVE_VERSION, "print the version and exit");
    app.footer(
        "Examples:\n"
        "  pave identity create                        create this node's key (once)\n"
        "  pave node                                   relay for others on the public DHT\n"
        "  pave wg up /etc/wireguard/wg0.conf          your provider's WireGuard file, through a random relay\n"
        "  pave wg down /etc/wireguard/wg0.conf        take it down again\n"
        "  pave status                                 what runs: interface, VPN, relay, bytes\n"
        "  pave connect --vpn vpn.example.net:51820    reach your VPN through a random relay;\n"
        "                                              then point WireGuard's Endpoint at 127.0.0.1:51821\n"
        "  pave shell -c status                        ask the running node how it is doing\n"
        "\n"
        "Exit status: 0 success, 1 failure while running, 2 usage error.\n"
        "Run 'pave COMMAND --help' for a command's options.");
    std::string state_dir = default_state_dir();
    std::string log_level = "info";
    bool log_addresses = false;
    app.add_option("--state-dir", state_dir,
                   "state directory (default: $STATE_DIRECTORY under systemd, else $XDG_STATE_HOME/pave or "
                   "~/.local/state/pave; now " + state_dir + ")");
    app.add_option("--log-level", log_level, "error, warn, info or debug (default: info)")
        ->check(CLI::IsMember({"error", "warn", "warning", "info", "debug"}));
    app.add_flag("--log-addresses", log_addresses, "show peer addresses in the log (off by default)");

    auto* identity = app.add_subcommand("identity", "the node's Ed25519 key");
    identity->require_subcommand(1);
    bool force = false;
    auto* id_create = identity->add_subcommand("create", "create the node key");
    id_create->add_flag("--force", force, "replace an existing key");
    auto* id_show = identity->add_subcommand("show", "print the node id and public key");

    NodeOptions nopts;
    std::string ttl_text = "10m", timeout_text = "20s", min_age_text = "10m", announce_delay_text;
    const char* announce_delay_help =
        "delay before the relay role beside the client first announces itself (default: random, exponential with "
        "mean 15m, at most 1h, so its appearance does not mark your tunnel's start; 0: at once)";
    bool no_relay = false;
    auto* node = app.add_subcommand("node", "run a serverless P2P node (relays unless --no-relay)");
    node->footer("Examples:\n"
                 "  pave node                                   relay on the public DHT, any free UDP port\n"
                 "  pave node --port 4300 --capacity 128        a fixed port (open it in your firewall)\n"
                 "  pave node --network-id 7 --bootstrap 192.0.2.10   a private swarm (port 4222 if left out)");
    add_node_flags(node, nopts, ttl_text);
    node->add_flag("--no-relay", no_relay, "do not relay for others");
    node->add_option("--presence-ttl", ttl_text, "lifetime of the signed presence record (e.g. 30s, 10m; default: 10m)");
    node->add_option("--capacity", nopts.capacity, "sessions this relay accepts")->capture_default_str();
    node->add_flag("--allow-private-endpoints", nopts.allow_private_endpoints,
                   "let clients reach VPN endpoints on private/loopback addresses (labs only)");

    bool lan = false;
    const char* lan_help = "offer private (LAN) addresses as candidates and accept a peer's (peers on the same network)";
    node->add_flag("--lan-candidates", lan, lan_help);

    NodeOptions copts;
    copts.client = true;
    std::string cttl;
    auto* connect = app.add_subcommand("connect", "run the client role: reach --vpn through a random relay");
    connect->footer("Examples:\n"
                    "  pave connect --vpn vpn.example.net:51820\n"
                    "      then set the WireGuard peer's Endpoint = 127.0.0.1:51821\n"
                    "  pave connect --vpn [2001:db8::1]:51820 --listen 127.0.0.1:51900 --fwmark 51820\n"
                    "      a full tunnel: PAVE's sockets carry wg-quick's mark and leave outside the tunnel");
    add_node_flags(connect, copts, cttl);
    connect->add_option("--vpn", copts.vpn, "the WireGuard server, HOST:PORT")->required();
    connect->add_option("--listen", copts.listen, "where your WireGuard's Endpoint points: a numeric ADDRESS:PORT")->capture_default_str();
    connect->add_option("--timeout", timeout_text, "give up a connection attempt after this long (e.g. 20s, 1m; default: 20s)");
    connect->add_flag("--lan-candidates", lan, lan_help);
    connect->add_option("--standby", copts.standby, "standby sessions to other relays, for failover (default: 1)")
        ->check(CLI::Range(0, 4));
    connect->add_flag("--no-relay", no_relay, "do not run the relay role beside the client (by default every user relays for others, with a fresh identity each run)");
    connect->add_option("--relay-announce-delay", announce_delay_text, announce_delay_help);
    connect->add_option("--guards", copts.guards,
                        "guard relays kept for weeks in the state dir; sessions use them first (default: 3; 0: a "
                        "random relay every time)")
        ->check(CLI::Range(0, 8));
    connect->add_option("--min-relay-age", min_age_text,
                        "how long a relay must have been in the directory before it may become a guard (default: 10m; "
                        "until then any relay serves, without becoming a guard)");

    // pave wg ...
    NodeOptions wopts;
    std::string wg_config, wg_iface, wg_peer;
    bool run_hooks = false;
    auto* wg = app.add_subcommand("wg", "WireGuard through PAVE: a wg-quick file, or an interface already up");
    wg->require_subcommand(1);
    auto* wg_up = wg->add_subcommand("up", "bring up a wg-quick file's interface with its peer reached through PAVE");
    wg_up->footer("Examples:\n"
                  "  pave wg up /etc/wireguard/wg0.conf          in the foreground; Ctrl-C takes it down\n"
                  "  systemctl enable --now pave-wg@wg0          the same as a service\n"
                  "The file is never modified. PAVE resolves its Endpoint first, listens on a free loopback port\n"
                  "and runs `wg-quick up` on a derived copy (in /run/pave/wg/IFACE/) whose Endpoint is that port,\n"
                  "with MTU 1420 unless the file sets one and FwMark 51820 unless it sets one; PAVE's own\n"
                  "sockets carry the same mark, so a full tunnel does not route them into itself.");
    add_node_flags(wg_up, wopts, cttl);
    wg_up->remove_option(wg_up->get_option("--fwmark"));
    wg_up->add_option("CONFIG", wg_config, "the wg-quick file, e.g. /etc/wireguard/wg0.conf (the interface is named after it)")
        ->required();
    wg_up->add_flag("--run-hooks", run_hooks, "run the file's PreUp/PostUp/PreDown/PostDown lines (not run by default)");
    wg_up->add_option("--timeout", timeout_text, "give up a connection attempt after this long (default: 20s)");
    wg_up->add_flag("--lan-candidates", lan, lan_help);
    wg_up->add_option("--standby", wopts.standby, "standby sessions to other relays, for failover (default: 1)")
        ->check(CLI::Range(0, 4));
    wg_up->add_flag("--no-relay", no_relay, "do not run the relay role beside the client (by default every user relays for others, with a fresh identity each run)");
    wg_up->add_option("--relay-announce-delay", announce_delay_text, announce_delay_help);
    auto* wg_down = wg->add_subcommand("down", "take down what `pave wg up CONFIG` brought up (also after a crash)");
    wg_down->add_option("CONFIG", wg_config, "the same file as given to `pave wg up`")->required();
    auto* wg_attach = wg->add_subcommand("attach", "relay an interface that is already up: repoint its VPN peer at PAVE");
    wg_attach->footer("Examples:\n"
                      "  pave wg attach wg0                      the interface's only peer\n"
                      "  pave wg attach wg0 --peer KEY           one of several peers\n"
                      "The peer's endpoint is restored when this stops (or by `pave wg detach wg0` after a crash).");
    add_node_flags(wg_attach, wopts, cttl);
    wg_attach->remove_option(wg_attach->get_option("--fwmark"));
    wg_attach->add_option("IFACE", wg_iface, "the WireGuard interface")->required();
    wg_attach->add_option("--peer", wg_peer, "the VPN peer's public key (needed when the interface has several peers)");
    wg_attach->add_option("--timeout", timeout_text, "give up a connection attempt after this long (default: 20s)");
    wg_attach->add_flag("--lan-candidates", lan, lan_help);
    wg_attach->add_option("--standby", wopts.standby, "standby sessions to other relays, for failover (default: 1)")
        ->check(CLI::Range(0, 4));
    wg_attach->add_flag("--no-relay", no_relay, "do not run the relay role beside the client (by default every user relays for others, with a fresh identity each run)");
    wg_attach->add_option("--relay-announce-delay", announce_delay_text, announce_delay_help);
    auto* wg_detach = wg->add_subcommand("detach", "stop `pave wg attach IFACE` and restore the peer's endpoint");
    wg_detach->add_option("IFACE", wg_iface, "the WireGuard interface")->required();

    bool status_json = false;
    auto* status = app.add_subcommand("status", "what PAVE runs here: interfaces, VPN, relay, handshake, bytes");
    status->add_flag("--json", status_json, "machine-readable (schema pave.overview.v1, documented in README)");

    std::string command, socket;
    bool shell_connect = false;
    auto* shell = app.add_subcommand("shell", "debug shell attached to the running node");
    shell->footer("Examples:\n"
                  "  pave shell                     interactive (type help)\n"
                  "  pave shell -c status           one command: status, relays, sessions, ...\n"
                  "  pave shell --connect -c status ask `pave connect` instead of `pave node`");
    shell->add_option("-c", command, "run one command and exit");
    shell->add_option("--socket", socket, "control socket path (default: the node's in the state dir)");
    shell->add_flag("--connect", shell_connect, "attach to `pave connect` instead of `pave node`");

    std::string stun_server, stun_bind;
    unsigned stun_timeout_ms = 1500;
    auto* stun = app.add_subcommand("stun-probe", "ask a STUN server for this host's public address");
    stun->add_option("--server", stun_server, "STUN server HOST:PORT")->required();
    stun->add_option("--bind", stun_bind, "local address:port to send from");
    stun->add_option("--timeout-ms", stun_timeout_ms, "give up after this long, in milliseconds (default: 1500)")
        ->check(CLI::Range(100u, 60000u));

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        bool missing = std::string(e.what()).find("subcommand") != std::string::npos;
        if (std::string msg = unknown_command(app, argc, argv, missing); !msg.empty())
            std::cerr << "pave: error: " << msg << "\n";
        else
            std::cerr << "pave: error: " << e.what() << " (see pave --help)\n";
        return 2;
    }
    log::set_level(*log::parse_level(log_level));
    log::set_show_addresses(log_addresses);
    set_lan_candidates(lan);

    if (*id_create || *id_show) {
        if (std::string err = prepare_state_dir(state_dir); !err.empty()) {
            std::cerr << "pave: error: " << err << "\n";
            return 1;
        }
        std::string path = key_file_path(state_dir);
        if (*id_create) {
            Ed25519Key key = Ed25519Key::generate();
            if (std::string err = save_key_file(path, key, force); !err.empty()) {
                std::cerr << "pave: error: " << err << "\n";
                return 1;
            }
            std::cout << "created " << path << "\nid " << node_id(key.public_key()) << "\n";
            return 0;
        }
        auto kf = load_key_file(path);
        if (!kf.key) {
            std::cerr << "pave: error: " << kf.error << "\n";
            return 1;
        }
        std::cout << "id " << node_id(kf.key->public_key()) << "\npublic_key " << to_hex(kf.key->public_key()) << "\n";
        return 0;
    }
    if (*node || *connect) {
        NodeOptions& o = *node ? nopts : copts;
        if (*node) {
            auto ttl = parse_duration(ttl_text);
            if (!ttl || *ttl < 10) {
                std::cerr << "pave: error: invalid --presence-ttl '" << ttl_text << "' (e.g. 30s, 10m; at least 10s)\n";
                return 2;
            }
            o.presence_ttl_s = *ttl;
        } else {
            // 0 is allowed here (every relay eligible at once: labs), unlike durations elsewhere.
            auto age = parse_duration_or_zero(min_age_text);
            if (!age) {
                std::cerr << "pave: error: invalid --min-relay-age '" << min_age_text << "' (e.g. 0s, 10m)\n";
                return 2;
            }
            o.min_relay_age_s = *age;
        }
        if (!finish_options(o, state_dir, no_relay, *node ? nullptr : &timeout_text, announce_delay_text)) return 2;
        return run_node(o);
    }
    if (*status) return run_status(state_dir, status_json);
    if (*wg_down) return run_wg_down(wg_config);
    if (*wg_detach) return run_wg_detach(wg_iface);
    if (*wg_up || *wg_attach) {
        NodeOptions& o = wopts;
        if (!finish_options(o, state_dir, no_relay, &timeout_text, announce_delay_text)) return 2;
        return *wg_up ? run_wg_up(wg_config, run_hooks, o) : run_wg_attach(wg_iface, wg_peer, o);
    }
    if (*shell) {
        std::string path = !socket.empty() ? socket
                                           : (shell_connect ? connect_socket_path(state_dir) : node_socket_path(state_dir));
        return run_shell(path, command, state_dir + "/shell_history");
    }
    if (*stun) return run_stun_probe(stun_server, stun_bind, stun_timeout_ms);
    return 2;
}

}  // namespace pave
