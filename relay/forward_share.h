// The relay's forwarding capacity, shared by its sessions. I/O-free; the caller passes the time.
//
// A relay has one capacity in bytes per second (both directions of every session together).
// Each second, the sessions that forwarded transport data during the current or the previous
// second are *active*, and each active session may forward capacity / active bytes per second
// (Gate holds the bucket). Idle sessions take no share, so a lone tunnel gets the whole
// capacity and n busy tunnels get 1/n each. No session is ever cut off for volume: what exceeds
// the share is dropped and counted, and the session lives on. Credits will govern volume later.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace pave {

class ForwardShare {
public:
    using time_point = std::chrono::steady_clock::time_point;

    // 1 Gbit/s: above what one relay process forwards (bench/README.md), so by default the
    // share only divides the capacity between busy sessions.
    static constexpr double kDefaultBytesPerS = 125e6;

    explicit ForwardShare(double bytes_per_s = kDefaultBytesPerS);

    // A session forwards at `now`. `seen` is the session's own marker (start it at 0): it makes
    // the session count once per second. Returns the session's share in bytes per second.
    double share(uint64_t& seen, time_point now);
    // Sessions counted active at `now` (at least 1).
    size_t active(time_point now) const;
    double capacity() const { return capacity_; }

private:
    // Seconds since the clock's epoch, plus one so that 0 means "never".
    static uint64_t second_of(time_point now);
    void advance(uint64_t second);

    double capacity_;
    uint64_t second_ = 0;
    size_t this_second_ = 0;
    size_t last_second_ = 0;
};

}  // namespace pave
