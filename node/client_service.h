// The client role (`pave connect`): posts sealed rendezvous offers to relays of the directory,
// several at once (RelayChoice decides which and when), punches through both NATs to the
// first relay that accepts, and then carries the local WireGuard's packets through it, byte
// for byte. The role has no long-term identity: a fresh ephemeral key per offer, a random DHT
// node id per run and no presence record.
#pragma once
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <string>

#include "crypto/x25519.h"
#include "dht/directory.h"
#include "dht/dht_node.h"
#include "dht/relay_choice.h"
#include "dht/rendezvous_blob.h"
#include "node/send_batch.h"
#include "relay/session.h"

namespace pave {

class DirectoryFeed;
class LoopQueue;
class Reflector;
class UdpPort;

// How long a relay may take to answer a rendezvous before it counts as silent.
inline constexpr std::chrono::seconds kAnswerWait{5};
// Per-offer progress lines for the first few offers of an attempt; then a summary now and then.
inline constexpr unsigned kVerboseAsks = 3;

struct ClientConfig {
    Endpoint vpn;
    Endpoint listen;
    std::chrono::seconds timeout{20};
    std::vector<Endpoint> stun_servers;
    SessionTimers timers;
};

class ClientService {
public:
    using Clock = std::chrono::steady_clock;
    // Called when the client cannot go on (first attempt failed): exit code and reason.
    using FatalFn = std::function<void(int code, const std::string& why)>;

    enum class Step { finding_relays, learning_address, rendezvous, punching, connected, failed };
    static const char* to_string(Step s);

    ClientService(uv_loop_t* loop, DhtNode& dht, LoopQueue& queue, UdpPort& port, DirectoryFeed& feed,
                  Reflector& reflector, const ClientConfig& cfg, FatalFn fatal);
    ~ClientService();

    std::string start();  // opens the local WireGuard listener; "" or a one-line error
    void tick();          // loop thread, every ~100 ms
    bool on_control(ByteView wire, const Endpoint& from);
    // From the relay, on the client socket; false when it is not from the bound relay address.
    bool on_wireguard(ByteView pkt, const Endpoint& from);
    std::string sessions_text() const;
    Step step() const { return step_; }
    // End of a loop iteration: send what the data path queued.
    void flush_batches() {
        to_relay_.flush();
        to_local_.flush();
    }

private:
    static void on_local_recv(uv_udp_t*, ssize_t, const uv_buf_t*, const sockaddr*, unsigned);
    void on_local_packet(ByteView pkt, const Endpoint& from);
    void progress(const std::string& msg);
    void fail(const std::string& step, const std::string& why);
    // One sealed offer waiting for its answer.
    struct Ask {
        RelayInfo relay;
        std::optional<X25519Key> eph;
        ByteArray<16> session_id{};
        Bytes answer_material;
        DhtKey answer_key{};
        std::optional<size_t> listen;
    };
    void begin_attempt();
    void rendezvous_tick(Clock::time_point now);
    bool send_offer(const RelayInfo& relay);
    void on_answer(uint64_t ask_id, const Bytes& value);
    void drop_ask(uint64_t ask_id);
    void cancel_asks();
    void arm_timer();

    uv_loop_t* loop_;
    DhtNode& dht_;
    LoopQueue& queue_;
    UdpPort& port_;
    DirectoryFeed& feed_;
    Reflector& reflector_;
    ClientConfig cfg_;
    FatalFn fatal_;

    Step step_ = Step::finding_relays;
    Clock::time_point attempt_start_, step_start_;
    bool ever_connected_ = false;
    unsigned attempts_ = 0;

    std::optional<RelayInfo> relay_;  // the relay of the session
    std::optional<RelayChoice> choice_;
    std::map<uint64_t, Ask> asks_;     // offers waiting for an answer, by ask id
    uint64_t next_ask_id_ = 1;
    unsigned asks_in_attempt_ = 0;
    Clock::time_point last_summary_;
    std::unique_ptr<Session> session_;
    // Answers that opened but were not used, by reason; offers that could not be made.
    uint64_t answers_stale_ = 0, answers_no_usable_candidate_ = 0, answers_refused_ = 0, answers_late_ = 0;
    uint64_t offers_unsealable_ = 0;

    uv_udp_t* local_ = nullptr;
    std::optional<Endpoint> local_peer_;  // the WireGuard source port we locked onto
    uint64_t local_other_source_ = 0, local_dropped_not_connected_ = 0;
    uint64_t wg_to_relay_ = 0, wg_from_relay_ = 0;
    SendBatch to_relay_, to_local_;
    uv_timer_t* timer_ = nullptr;
};

}  // namespace pave
