// The client role (`pave connect`) on the node: adapts the I/O-free ClientEngine
// (relay/engine/client_engine.h, where the role's logic and its steps are described) to libuv
// and OpenDHT. It owns the local WireGuard listener (`--listen`), a timer for the engine's
// deadlines, the send batches of the data path, and the engine's DHT listens (OpenDHT's
// callbacks are posted to the loop thread), and an AddressWatch that tells the engine when this
// host's addresses change (node/address_watch.h); it prints the engine's progress events as
// "pave connect: ..." lines and exits the node when the engine gives up.
//
// The engine reads the relay bucket keys with short gets for its own directory, which is also
// what the node's `relays` command and `status` show (the node's DirectoryFeed, which listens,
// runs only in `pave node`).
#pragma once
#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "dht/opendht/dht_node.h"
#include "node/address_watch.h"
#include "node/send_batch.h"
#include "relay/engine/client_engine.h"
#include "node/uv_handle.h"

namespace pave {

class JsonWriter;

class LoopQueue;
class UdpPort;

struct ClientConfig {
    Endpoint vpn;
    Endpoint listen;
    std::chrono::seconds timeout{20};
    unsigned standby = 1;
    unsigned guards = 3;
    uint64_t min_relay_age_s = 600;
    std::string state_dir;  // where the guard state lives ("": kept in memory only)
    std::vector<Endpoint> stun_servers;
    std::optional<Ed25519Public> own_relay;  // the relay role of the same process, never chosen
    SessionTimers timers;
};

class ClientService : private ClientEngineHost {
public:
    using Clock = std::chrono::steady_clock;
    using Step = ClientEngine::Step;
    // Called when the client cannot go on (first attempt failed): exit code and reason.
    using FatalFn = std::function<void(int code, const std::string& why)>;

    static const char* to_string(Step s) { return ClientEngine::to_string(s); }

    ClientService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, UdpPort& port, const ClientConfig& cfg,
                  FatalFn fatal);
    ~ClientService() override;

    std::string start();  // opens the local WireGuard listener; "" or a one-line error
    // Where the local listener is bound (its port when --listen asked for port 0).
    Endpoint local_address() const;
    void tick();          // loop thread, every ~100 ms (the engine's own deadlines have a timer)
    // Datagrams on the client's session socket; false when they are not the client's.
    bool on_control(ByteView wire, const Endpoint& from);
    bool on_wireguard(ByteView pkt, const Endpoint& from);
    bool on_stun(ByteView pkt, const Endpoint& from);
    std::string sessions_text() const;
    // The same as sessions_text, as the "client" member of `sessions --json` (pave.sessions.v1).
    void sessions_json(JsonWriter& j) const;
    Step step() const { return engine_.step(); }
    const ClientEngine& engine() const { return engine_; }
    // End of a loop iteration: send what the data path queued.
    void flush_batches() {
        to_relay_.flush();
        to_local_.flush();
    }

private:
    // ClientEngineHost
    void send(const Endpoint& to, ByteView data) override;
    void dht_put(const DhtKey& key, Bytes value) override;
    DhtListenToken dht_listen(const DhtKey& key) override;
    void dht_cancel_listen(const DhtKey& key, DhtListenToken token) override;
    DhtListenToken dht_get(const DhtKey& key) override;
    void event(const EngineEvent& e) override;
    void send_wireguard(const Endpoint& to, ByteView data) override;
    void send_local(const Endpoint& to, ByteView data) override;
    void send_probe(const Endpoint& to, ByteView data) override;
    std::vector<Endpoint> known_nodes(size_t max) override;
    bool dht_connected() override;
    std::vector<Endpoint> candidates(const std::optional<Endpoint>& reflexive, size_t max) override;
    void gave_up(const std::string& why) override;
    void save_guard_state(const std::string& text) override;
    void save_directory_cache(const std::string& text) override;

    static EngineTime now();
    static void on_local_recv(uv_udp_t*, ssize_t, const uv_buf_t*, const sockaddr*, unsigned);
    void arm_timer(Clock::time_point next);

    uv_loop_t* loop_;
    DhtNode& dht_;
    LoopQueue& queue_;
    UdpPort& port_;
    ClientConfig cfg_;
    FatalFn fatal_;
    ClientEngine engine_;
    std::map<DhtListenToken, size_t> listens_;  // engine's token -> DhtNode's token
    DhtListenToken next_token_ = 1;
    UvHandle<uv_udp_t> local_;
    SendBatch to_relay_, to_local_;
    UvHandle<uv_timer_t> timer_;
    // This host's addresses changing: the engine probes its relays' paths at once.
    AddressWatch address_watch_;
};

}  // namespace pave
