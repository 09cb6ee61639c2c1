// A client in the simulated swarm: a ClientEngine, the ClientEngineHost that connects it to the
// simulated world, and the local WireGuard it serves (a SimWireGuardPeer on the host's loopback,
// as `wg` with `Endpoint = 127.0.0.1:<listen port>` would be). Its session socket is on a
// private address behind a SimNat, or public when no NAT is given.
//
// Reflectors: the host knows the relays' shared ports as its DHT peers (every PAVE node answers
// STUN). Candidates: the reflexive address first, then the socket's own (host) address, as
// gather_candidates does for an interface address.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "relay/engine/client_engine.h"
#include "tests/sim/engine_ticker.h"
#include "tests/sim/sim_wireguard.h"
#include "tests/sim/sim_world.h"

namespace pave::sim {

struct SimClientOptions {
    std::string address;  // "ip:port" of the session socket (private when behind `nat`)
    SimNat* nat = nullptr;
    ClientEngineConfig config;  // config.vpn: the VPN endpoint
    LinkParams link;
    // The DHT peers the host names as reflectors (the relays' ports, usually).
    std::vector<Endpoint> known_nodes;
};

class SimClient : public ClientEngineHost {
public:
    SimClient(SimWorld& world, SimClientOptions opts);
    ~SimClient() override;

    ClientEngine& engine() { return engine_; }
    ClientEngine::Step step() const { return engine_.step(); }
    SimSocket& socket() { return sock_; }
    SimWireGuardPeer& wireguard() { return wg_; }
    void set_known_nodes(std::vector<Endpoint> n) { opts_.known_nodes = std::move(n); }

    void start();
    void close();
    // The host's address changed: the session socket sends from `local` from now on, behind the
    // same NAT (which maps it afresh) or, given `nat`, behind that one (another network). With
    // `notify`, the engine is told at once, as the node's address watch tells it
    // (node/address_watch.h); without, it finds out from its paths.
    void move_address(const Endpoint& local, bool notify, SimNat* nat = nullptr);

    const std::vector<EngineEvent>& events() const { return events_; }
    bool saw_event(const std::string& substring) const;
    size_t count_events(const std::string& substring) const;
    // The event whose message contains `substring` (the first), or nullptr.
    const EngineEvent* find_event(const std::string& substring) const;
    const std::optional<std::string>& gave_up_why() const { return gave_up_; }
    uint64_t probes_sent() const { return probes_sent_; }
    uint64_t local_sent() const { return local_sent_; }

    // ClientEngineHost
    void send(const Endpoint& to, ByteView data) override;
    void dht_put(const DhtKey& key, Bytes value) override;
    DhtListenToken dht_listen(const DhtKey& key) override;
    void dht_cancel_listen(const DhtKey& key, DhtListenToken token) override;
    DhtListenToken dht_get(const DhtKey& key) override;
    void save_guard_state(const std::string& text) override { guard_state_ = text; }
    // What the engine last asked to keep for the next run ("" if nothing yet).
    const std::string& guard_state() const { return guard_state_; }
    void save_directory_cache(const std::string& text) override { directory_cache_ = text; }
    const std::string& directory_cache() const { return directory_cache_; }
    void event(const EngineEvent& e) override;
    void send_wireguard(const Endpoint& to, ByteView data) override;
    void send_local(const Endpoint& to, ByteView data) override;
    void send_probe(const Endpoint& to, ByteView data) override;
    std::vector<Endpoint> known_nodes(size_t max) override;
    bool dht_connected() override { return true; }
    std::vector<Endpoint> candidates(const std::optional<Endpoint>& reflexive, size_t max) override;
    void gave_up(const std::string& why) override { gave_up_ = why; }

    // The local WireGuard's first source address, as the engine sees it.
    static Endpoint local_wireguard_address() { return *Endpoint::parse("127.0.0.1:51821"); }
    // Where the local WireGuard sends from now.
    const Endpoint& wireguard_source() const { return wg_source_; }
    // WireGuard restarted (wg-quick down; wg-quick up): it sends from `source` from now on and
    // listens there; datagrams the client sends to its old address are lost.
    void move_wireguard(const Endpoint& source) { wg_source_ = source; }

private:
    void after(TimePoint deadline) { ticker_.want(deadline); }

    SimWorld& world_;
    SimClientOptions opts_;
    SimSocket& sock_;
    ClientEngine engine_;
    EngineTicker ticker_;
    Endpoint wg_source_ = local_wireguard_address();
    SimWireGuardPeer wg_;
    bool closed_ = false;
    std::string guard_state_;
    std::string directory_cache_;
    std::vector<EngineEvent> events_;
    std::optional<std::string> gave_up_;
    uint64_t probes_sent_ = 0, local_sent_ = 0;
};

}  // namespace pave::sim
