// A relay in the simulated swarm: a RelayEngine and the RelayEngineHost that connects it to the
// simulated world. Its shared port is a public socket (relays are reachable, as a relay behind
// a NAT would be through its learned reflexive address); each session's socket towards the VPN
// is a socket of its own on the relay's address, on a port counted up from 50000.
//
// Misbehaviours a test can switch on: silent (the relay drops everything it would receive and
// stops ticking, as a relay that crashed while its presence record lives on), and a
// candidate override (the relay names an address in its answers where nobody listens).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519_key.h"
#include "relay/engine/relay_engine.h"
#include "tests/sim/engine_ticker.h"
#include "tests/sim/sim_world.h"

namespace pave::sim {

struct SimRelayOptions {
    std::string address;  // "ip:port" of the shared port
    RelayEngineConfig config;
    LinkParams link;
};

class SimRelay : public RelayEngineHost {
public:
    SimRelay(SimWorld& world, SimRelayOptions opts);
    ~SimRelay() override;

    RelayEngine& engine() { return engine_; }
    const Endpoint& endpoint() const { return sock_.local(); }
    const Ed25519Public& node_pub() const { return key_.public_key(); }
    SimSocket& socket() { return sock_; }

    void set_silent(bool silent);
    bool silent() const { return silent_; }
    // Names `c` as the relay's only candidate in its answers (std::nullopt: its own address).
    void set_candidate_override(std::optional<Endpoint> c) { candidate_override_ = std::move(c); }
    // Closes every session at once (CLOSE frames to their clients), as a relay that stops.
    void shutdown();
    // A graceful stop's first step (RelayEngine::drain): CLOSE frames now, WireGuard carried
    // for the drain grace; call shutdown() after it.
    bool drain();

    const std::vector<EngineEvent>& events() const { return events_; }
    bool saw_event(const std::string& substring) const;
    size_t vpn_sockets_open() const { return vpn_.size(); }
    uint64_t vpn_opened() const { return vpn_opened_; }
    uint64_t stun_replies() const { return stun_replies_; }

    // RelayEngineHost
    void send(const Endpoint& to, ByteView data) override;
    void dht_put(const DhtKey& key, Bytes value) override;
    DhtListenToken dht_listen(const DhtKey& key) override;
    void dht_cancel_listen(const DhtKey& key, DhtListenToken token) override;
    uint64_t dht_announce(const DhtKey& key, Bytes value) override;
    void dht_withdraw(const DhtKey& key, uint64_t id) override;
    bool dht_connected() override { return world_.dht.up; }
    void event(const EngineEvent& e) override;
    std::string vpn_open(const ConnId& id, const Endpoint& vpn, uint32_t fwmark) override;
    void vpn_send(const ConnId& id, ByteView data) override;
    void vpn_close(const ConnId& id) override;
    bool send_reply(const Endpoint& to, ByteView data) override;
    std::vector<Endpoint> own_candidates() override;
    std::vector<Endpoint> host_addresses() override;

private:
    struct VpnSocket {
        SimSocket* sock;
        Endpoint vpn;
    };
    void after_call() { ticker_.want(engine_.next_deadline()); }

    SimWorld& world_;
    Ed25519Key key_;
    SimSocket& sock_;
    RelayEngine engine_;
    EngineTicker ticker_;
    bool silent_ = false;
    std::optional<Endpoint> candidate_override_;
    std::map<ConnId, VpnSocket> vpn_;
    uint16_t next_vpn_port_ = 50000;
    std::vector<EngineEvent> events_;
    uint64_t vpn_opened_ = 0, stun_replies_ = 0;
};

}  // namespace pave::sim
