// A PAVE node process: one libuv loop owning the role's UDP sockets, the DHT handle, the
// directory, the relay service (unless --no-relay), the client service (pave connect) and
// the control socket.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pave {

inline constexpr const char* kPublicBootstrap = "bootstrap.jami.net:4222";

struct NodeOptions {
    std::string state_dir;
    std::vector<std::string> bind;       // numeric addresses; empty: 0.0.0.0 and ::
    uint16_t port = 0;                   // 0: any free port
    std::vector<std::string> bootstrap;  // host:port
    uint32_t network_id = 0;             // 0 is the public OpenDHT network
    bool relay = true;
    uint32_t presence_ttl_s = 600;
    uint32_t capacity = 64;
    bool allow_private_endpoints = false;
    std::vector<std::string> stun_servers;  // host:port reflectors besides PAVE peers
    bool dht_verbose = false;
    uint32_t fwmark = 0;

    // client role (pave connect, pave wg up/attach); with `relay` too, the relay role runs beside
    // it with a fresh identity (never stored) and its own socket
    bool client = false;
    std::string vpn;                     // HOST:PORT of the WireGuard server
    std::string listen = "127.0.0.1:51821";  // port 0: any free port (pave wg up)
    uint32_t timeout_s = 20;

    // The control socket; "" for the state directory's (node.sock, or connect.sock).
    std::string control_socket;
    // Client role: called once on the loop thread when the local WireGuard listener is bound,
    // before the loop runs, with its address ("127.0.0.1:PORT"); it may block (pave wg up runs
    // wg-quick here). A non-empty return is an error: the node stops with exit code 1.
    std::function<std::string(const std::string& listening)> on_listening;
    unsigned standby = 1;  // connect: standby sessions (--standby)
    unsigned guards = 3;   // connect: guard relays (--guards; 0: none)
    uint64_t min_relay_age_s = 600;  // connect: a relay's age in the directory before it may be a guard
    // The relay role beside a client: its first announcement's delay (unset: random, exponential
    // with mean kRelayAnnounceDelayMean, at most kRelayAnnounceDelayMax); it never withdraws its
    // record on exit (the record expires within its TTL).
    std::optional<uint32_t> relay_announce_delay_s;
};

// Runs until SIGINT/SIGTERM (or, for the client role, a fatal failure). Returns the exit code.
int run_node(const NodeOptions& opts);

}  // namespace pave
