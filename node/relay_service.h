// The relay role on the node: adapts RelayEngine (relay/engine/relay_engine.h), which holds
// all of the relay's logic, to libuv and OpenDHT. It feeds the engine the shared port's
// datagrams, the values of its DHT listens (posted from OpenDHT's thread to the loop thread;
// only their size is looked at there) and time (one libuv timer at the engine's deadline),
// and carries out what the engine asks: datagrams on the shared port (WireGuard to clients
// batched until the end of the loop iteration, control frames at once), DHT puts and listens,
// one socket per session towards the VPN (node/vpn_socket.h), and log lines.
#pragma once
#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "node/candidates.h"
#include "node/send_batch.h"
#include "relay/engine/relay_engine.h"
#include "node/uv_handle.h"

namespace pave {

class JsonWriter;

class DhtNode;
class LoopQueue;
class UdpPort;
class VpnSocket;

struct RelayConfig : RelayEngineConfig {
    // Client candidates on private addresses follow the process-wide --lan-candidates.
    RelayConfig() { lan_candidates = pave::lan_candidates(); }
};

class RelayService : private RelayEngineHost {
public:
    using CandidatesFn = std::function<std::vector<Endpoint>()>;
    // Every address of the host (all interfaces, any family): refused as endpoints and
    // candidates. Default: host_addresses().
    using HostAddressesFn = std::function<std::vector<Endpoint>()>;
    using Intake = RelayEngine::Intake;

    RelayService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, const Ed25519Key& key, UdpPort& port,
                 const RelayConfig& cfg, CandidatesFn candidates, std::vector<Endpoint> own_addresses,
                 HostAddressesFn host_addresses = {});
    ~RelayService() override;

    // From the shared port. Return true if the engine took the datagram.
    bool on_control(ByteView wire, const Endpoint& from);
    // False when no established session has `from` as its bound client address.
    bool on_wireguard(ByteView pkt, const Endpoint& from);
    // A STUN request that arrived on `port`: answered through that port's amplification guard.
    void on_stun(ByteView data, const Endpoint& from, UdpPort& port);

    const RelayEngine& engine() const { return *engine_; }
    unsigned bucket() const { return engine_->bucket(); }
    std::vector<DhtKey> current_inbox_keys(uint64_t now_s) const { return engine_->current_inbox_keys(now_s); }
    uint64_t publications() const { return engine_->publications(); }
    size_t session_count() const { return engine_->session_count(); }
    const StunAnswerer& stun() const { return engine_->stun(); }
    std::string sessions_text() const;
    // The same as sessions_text, as the "relay" member of `sessions --json` (pave.sessions.v1).
    void sessions_json(JsonWriter& j) const;
    // End of a loop iteration: send what the data path queued.
    void flush_batches();
    // The DHT has joined (DhtNode::ready): presence and inbox listens are looked at now.
    void dht_joined();
    // Closes every session now (CLOSE frames sent at once), so clients move to their standby
    // without waiting for the rest of the node's shutdown (the DHT's stop takes a while).
    void close_sessions();
    // A graceful stop: CLOSE frames now, WireGuard still carried for RelayEngine::kDrainGrace
    // (RelayEngine::drain); false when there is nothing to drain.
    bool drain();

private:
    // RelayEngineHost
    void send(const Endpoint& to, ByteView data) override;
    void dht_put(const DhtKey& key, Bytes value) override;
    DhtListenToken dht_listen(const DhtKey& key) override;
    void dht_cancel_listen(const DhtKey& key, DhtListenToken token) override;
    uint64_t dht_announce(const DhtKey& key, Bytes value) override;
    void dht_withdraw(const DhtKey& key, uint64_t id) override;
    bool dht_connected() override;
    void event(const EngineEvent& e) override;
    std::string vpn_open(const ConnId& id, const Endpoint& vpn, uint32_t fwmark) override;
    void vpn_send(const ConnId& id, ByteView data) override;
    void vpn_close(const ConnId& id) override;
    bool send_reply(const Endpoint& to, ByteView data) override;
    std::vector<Endpoint> own_candidates() override { return candidates_(); }
    std::vector<Endpoint> host_addresses() override { return host_addresses_(); }
    uint64_t thread_cpu_ns() override;

    static EngineTime now();
    void arm_timer();
    void on_timer();

    uv_loop_t* loop_;
    DhtNode& dht_;
    LoopQueue& queue_;
    UdpPort& port_;
    UdpPort* reply_port_ = nullptr;  // the port of the STUN request being answered
    CandidatesFn candidates_;
    HostAddressesFn host_addresses_;
    SendBatch to_clients_;
    std::map<ConnId, std::unique_ptr<VpnSocket>> vpn_;
    std::map<DhtListenToken, size_t> listens_;  // ours -> OpenDHT's token
    DhtListenToken next_listen_ = 0;
    UvHandle<uv_timer_t> timer_;
    std::unique_ptr<RelayEngine> engine_;
};

}  // namespace pave
