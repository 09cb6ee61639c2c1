// Fast detection of a dead active relay while traffic flows (the client's side).
//
// The session's own keepalive (a PING every 5 s, closed after 20 s without an authenticated
// frame) is far too slow to keep a tunnel usable; a tunnel that carries nothing needs no quick
// verdict. So the watch starts only when WireGuard data goes to the relay after the last thing
// heard from it:
//   - nothing back (no authenticated frame, no WireGuard packet) for probe_after =
//     max(2 x SRTT, 100 ms): a keepalive PING to the relay, which its session answers itself
//     (whatever the VPN does: a one-way flow, or a VPN slow to answer, costs one PING);
//   - a second PING dead_after / 2 later (one lost datagram is no verdict);
//   - nothing back dead_after = max(3 x SRTT, 250 ms) after the first PING: the relay is dead.
// SRTT is the session's smoothed PING RTT to the relay (RFC 6298's 7/8 weighting). Three round
// trips is TCP's usual margin over RTT variation for a path this short; the 100 ms and 250 ms
// floors keep a LAN's sub-millisecond RTT and a scheduler's hiccup from giving a false verdict
// (a false verdict costs a move to the standby, not the tunnel). With a 10/s ping through the
// tunnel a dead relay is found about 350 ms after its first unanswered packet in a LAN, and
// max(5 x SRTT, 350 ms) in general; a CLOSE frame is acted on at once, not through here.
// Anything heard ends the watch. I/O-free.
#pragma once
#include <chrono>
#include <optional>

namespace pave {

class PathWatch {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kProbeFloor{100};
    static constexpr std::chrono::milliseconds kDeadFloor{250};

    static Clock::duration probe_after(std::optional<std::chrono::microseconds> srtt);
    static Clock::duration dead_after(std::optional<std::chrono::microseconds> srtt);

    struct Poll {
        bool probe = false;  // send a keepalive PING now
        bool dead = false;   // the relay is dead
    };

    // WireGuard data went to the relay at `now`; last_heard: when the session last heard the
    // relay. True when a watch began (the caller should tick by deadline()).
    bool on_sent(Clock::time_point now, Clock::time_point last_heard);
    // The path may have broken without any data to tell (a local address changed): a watch
    // begins with its first PING due now; the caller sends it, and polls as for data.
    void suspect(Clock::time_point now) {
        since_ = now;
        first_probe_ = now;
        probes_ = 1;
    }
    Poll poll(Clock::time_point now, Clock::time_point last_heard, std::optional<std::chrono::microseconds> srtt);
    // When poll() has something to do (time_point::max() while no watch runs).
    Clock::time_point deadline(std::optional<std::chrono::microseconds> srtt) const;
    void reset() { *this = PathWatch{}; }
    bool watching() const { return since_.has_value(); }
    // How long the relay had been unanswered when it was found dead (for the failover record).
    std::optional<Clock::duration> unanswered_for(Clock::time_point now) const {
        if (!since_) return std::nullopt;
        return now - *since_;
    }

private:
    std::optional<Clock::time_point> since_;       // first data sent after the last thing heard
    std::optional<Clock::time_point> first_probe_;
    unsigned probes_ = 0;
};

}  // namespace pave
