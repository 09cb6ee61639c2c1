#include "node/cli.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <iostream>

#include "crypto/key_file.h"
#include "node/candidates.h"
#include "node/log.h"
#include "node/node.h"
#include "node/shell.h"
#include "node/state_dir.h"
#include "node/stun_probe.h"
#include "crypto/hex.h"

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

struct DurationOpt {
    std::string text;
    uint32_t* out;
    const char* name;
};

void add_node_flags(CLI::App* sub, NodeOptions& o, std::string& ttl_text) {
    sub->add_option("--bootstrap", o.bootstrap, "DHT bootstrap node host:port (repeatable; default: public OpenDHT nodes)");
    sub->add_option("--bind", o.bind, "numeric address to bind (repeatable: one IPv4 and/or one IPv6)");
    sub->add_option("--port", o.port, "UDP port (default: any free port)");
    sub->add_option("--network-id", o.network_id, "DHT network id (0 = the public OpenDHT network)");
    sub->add_option("--stun", o.stun_servers, "extra STUN server host:port to learn the public address (repeatable)");
    sub->add_option("--fwmark", o.fwmark, "firewall mark for PAVE's sockets (route them outside a full tunnel)");
    sub->add_flag("--dht-log", o.dht_verbose, "pass OpenDHT's debug log through (with --log-level debug)");
    (void)ttl_text;
}

}  // namespace

int run_cli(int argc, char** argv) {
    CLI::App app{"PAVE: Peer-Anonymized VPN Entry. A WireGuard client reaches its VPN through a random peer."};
    app.require_subcommand(1);
    app.fallthrough();
    std::string state_dir = default_state_dir();
    std::string log_level = "info";
    bool log_addresses = false;
    app.add_option("--state-dir", state_dir, "state directory (default $XDG_STATE_HOME/pave or ~/.local/state/pave)");
    app.add_option("--log-level", log_level, "error, warn, info or debug")
        ->check(CLI::IsMember({"error", "warn", "warning", "info", "debug"}));
    app.add_flag("--log-addresses", log_addresses, "show peer addresses in the log (off by default)");

    auto* identity = app.add_subcommand("identity", "the node's Ed25519 key");
    identity->require_subcommand(1);
    bool force = false;
    auto* id_create = identity->add_subcommand("create", "create the node key");
    id_create->add_flag("--force", force, "replace an existing key");
    auto* id_show = identity->add_subcommand("show", "print the node id and public key");

    NodeOptions nopts;
    std::string ttl_text = "10m", timeout_text = "20s";
    bool no_relay = false;
    auto* node = app.add_subcommand("node", "run a serverless P2P node (relays unless --no-relay)");
    add_node_flags(node, nopts, ttl_text);
    node->add_flag("--no-relay", no_relay, "do not relay for others");
    node->add_option("--presence-ttl", ttl_text, "lifetime of the signed presence record (e.g. 30s, 10m)");
    node->add_option("--capacity", nopts.capacity, "sessions this relay accepts");
    node->add_flag("--allow-private-endpoints", nopts.allow_private_endpoints,
                   "let clients reach VPN endpoints on private/loopback addresses (labs only)");

    bool lan = false;
    const char* lan_help = "offer private (LAN) addresses as candidates and accept a peer's (peers on the same network)";
    node->add_flag("--lan-candidates", lan, lan_help);

    NodeOptions copts;
    copts.client = true;
    copts.relay = false;
    std::string cttl;
    auto* connect = app.add_subcommand("connect", "run the client role: reach --vpn through a random relay");
    add_node_flags(connect, copts, cttl);
    connect->add_option("--vpn", copts.vpn, "the WireGuard server, HOST:PORT")->required();
    connect->add_option("--listen", copts.listen, "where your WireGuard's Endpoint points (default 127.0.0.1:51821)");
    connect->add_option("--timeout", timeout_text, "give up a connection attempt after this long (default 20s)");
    connect->add_flag("--lan-candidates", lan, lan_help);

    std::string command, socket;
    bool shell_connect = false;
    auto* shell = app.add_subcommand("shell", "debug shell attached to the running node");
    shell->add_option("-c", command, "run one command and exit");
    shell->add_option("--socket", socket, "control socket path (default: the node's in the state dir)");
    shell->add_flag("--connect", shell_connect, "attach to `pave connect` instead of `pave node`");

    std::string stun_server, stun_bind;
    unsigned stun_timeout_ms = 1500;
    auto* stun = app.add_subcommand("stun-probe", "ask a STUN server for this host's public address");
    stun->add_option("--server", stun_server, "STUN server HOST:PORT")->required();
    stun->add_option("--bind", stun_bind, "local address:port to send from");
    stun->add_option("--timeout-ms", stun_timeout_ms, "give up after this long (default 1500)")
        ->check(CLI::Range(100u, 60000u));

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
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
        o.state_dir = state_dir;
        if (*node) {
            o.relay = !no_relay;
            auto ttl = parse_duration(ttl_text);
            if (!ttl || *ttl < 10) {
                std::cerr << "pave: error: invalid --presence-ttl '" << ttl_text << "' (e.g. 30s, 10m; at least 10s)\n";
                return 2;
            }
            o.presence_ttl_s = *ttl;
        } else {
            auto t = parse_duration(timeout_text);
            if (!t) {
                std::cerr << "pave: error: invalid --timeout '" << timeout_text << "' (e.g. 20s)\n";
                return 2;
            }
            o.timeout_s = *t;
        }
        if (o.bootstrap.empty() && o.network_id == 0) o.bootstrap.push_back(kPublicBootstrap);
        return run_node(o);
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
