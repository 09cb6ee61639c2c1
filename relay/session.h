// One PAVE session between a client and a relay, seen from one side: hole punching, path
// validation, keepalives with RTT, re-binding after a NAT mapping change, and close.
//
// I/O-free: it is fed authenticated-or-not control frames and time, and sends through the
// callback it is given. The session never sends to an address that has not proven it is
// reachable and willing (path validation) beyond the anti-amplification budget of
// PathValidator. WireGuard packets do not pass through here: the owner forwards them to and
// from the bound peer address.
#pragma once
#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/session_keys.h"
#include "relay/wire/control_frame.h"
#include "relay/wire/endpoint.h"
#include "relay/path_validator.h"
#include "relay/probe_limiter.h"
#include "relay/punch_schedule.h"

namespace pave {

enum class SessionRole { client, relay };
enum class SessionState { punching, established, closed, failed };
const char* to_string(SessionState s);

enum class SessionDrop { malformed, wrong_conn, auth_failed, replayed, budget, bad_ack, probe_limited, count_ };
const char* to_string(SessionDrop d);

struct SessionTimers {
    std::chrono::milliseconds punch_timeout{20000};
    std::chrono::milliseconds keepalive{5000};   // well under the ~30 s NAT mapping lifetime
    std::chrono::milliseconds dead_after{20000}; // no authenticated frame for this long: closed
    // Bytes all rendezvous candidates together may receive before they have sent anything
    // (opens our own NAT mapping for the punch: about 20 probes), per session: well under 3x
    // the 512-byte rendezvous value that asked for them. Any other address gets only 3x what
    // it sent us.
    size_t punch_credit = 1024;
};

class Session {
public:
    using Clock = std::chrono::steady_clock;
    using Send = std::function<void(const Endpoint& to, ByteView data)>;

    Session(SessionRole role, const SessionKeys& keys, const std::vector<Endpoint>& peer_candidates,
            Clock::time_point now, const SessionTimers& timers, Send send);

    // A control frame whose conn id matched this session.
    void on_control(ByteView wire, const Endpoint& from, Clock::time_point now);
    // Call at (or after) next_deadline().
    void on_timer(Clock::time_point now);
    Clock::time_point next_deadline() const { return next_deadline_; }
    // The owner saw a WireGuard packet from the bound peer: the path is alive.
    void on_data_from_peer(Clock::time_point now) { last_heard_ = std::max(last_heard_, now); }
    // A keepalive probe now (a PING to the bound peer, answered by the peer's session itself);
    // false when there is no established path.
    bool probe(Clock::time_point now);
    // Client: names the live WireGuard keypair to the relay (a KEYPAIR frame); false when there
    // is no established path.
    bool send_keypair(const KeypairFrame& k, Clock::time_point now);
    // Relay: the last KEYPAIR frame the client sent, once (nullopt if none came since).
    std::optional<KeypairFrame> take_keypair() {
        auto k = keypair_;
        keypair_.reset();
        return k;
    }
    void close(uint8_t reason, Clock::time_point now);
    // Unsolicited probes (drawn from the punch credit) also take from this limiter, shared by
    // every session of the node (nullptr: none). It must outlive the session.
    void set_probe_limiter(ProbeLimiter* l) { probe_limiter_ = l; }

    SessionState state() const { return state_; }
    const std::string& failure() const { return failure_; }
    const std::optional<Endpoint>& peer() const { return peer_; }  // the validated, bound address
    std::optional<std::chrono::microseconds> rtt() const { return rtt_; }
    // The smoothed RTT (RFC 6298: 7/8 old + 1/8 new sample), nullopt before the first PONG.
    std::optional<std::chrono::microseconds> srtt() const { return srtt_; }
    // When an authenticated frame or the owner's WireGuard from the peer last arrived.
    Clock::time_point last_heard() const { return last_heard_; }
    Clock::time_point started() const { return started_; }
    std::optional<Endpoint> reflexive() const { return reflexive_; }  // our address as the peer sees it
    const ByteArray<8>& conn_id() const { return conn_id_; }
    uint64_t frames_in() const { return frames_in_; }
    uint64_t frames_out() const { return frames_out_; }
    uint64_t rebinds() const { return rebinds_; }
    uint64_t drops(SessionDrop d) const { return drops_[size_t(d)]; }
    uint64_t total_drops() const;
    unsigned punch_rounds() const { return schedule_.rounds(); }
    // Bytes sent to candidates beyond what they earned by sending (the punch credit spent).
    uint64_t unsolicited_bytes() const { return paths_.credit_spent(); }
    // Some authenticated frame arrived (from any address): the peer holds the session keys.
    bool heard() const { return frames_in_ != 0; }
    // The reason byte of the peer's CLOSE frame (0 if none came or none was given).
    uint8_t peer_close_reason() const { return peer_close_reason_; }

private:
    void send_frame(const Frame& f, const Endpoint& to, Clock::time_point now);
    void punch_round(Clock::time_point now);
    void challenge(const Endpoint& to, Clock::time_point now, uint8_t attempt);
    void answer_challenge(const ByteArray<16>& c, const Endpoint& from, bool from_validated, Clock::time_point now);
    void schedule(Clock::time_point now);
    void fail(std::string why);

    SessionTimers timers_;
    SessionRole role_;
    Send send_;
    FrameCodec codec_;
    ByteArray<8> conn_id_;
    std::vector<Endpoint> candidates_;
    PathValidator paths_;
    ProbeLimiter* probe_limiter_ = nullptr;
    uint8_t peer_close_reason_ = 0;
    PunchSchedule schedule_;
    SessionState state_ = SessionState::punching;
    std::string failure_;
    std::optional<Endpoint> peer_;
    std::optional<Endpoint> reflexive_;
    std::optional<std::chrono::microseconds> rtt_, srtt_;
    std::optional<KeypairFrame> keypair_;
    Clock::time_point started_, last_heard_, last_ping_{}, next_deadline_;
    uint64_t ping_id_ = 0;
    uint64_t frames_in_ = 0, frames_out_ = 0, rebinds_ = 0;
    std::array<uint64_t, size_t(SessionDrop::count_)> drops_{};
};

}  // namespace pave
