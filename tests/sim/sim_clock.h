// The swarm simulator's virtual clock: one time for every simulated party, advanced only by the
// event queue (tests/sim/event_queue.h), never by the wall clock. It gives the engines the
// EngineTime they are fed: a monotonic time point and unix milliseconds that move together.
#pragma once
#include <chrono>
#include <cstdint>

#include "relay/engine/engine_host.h"

namespace pave::sim {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

class VirtualClock {
public:
    // Both clocks start at fixed, arbitrary points so a run is the same on every machine: the
    // monotonic one an hour after its epoch, the wall clock at 2026-11-01 00:00 UTC.
    static constexpr uint64_t kStartUnixMs = 1'793'491'200'000;

    TimePoint mono() const { return mono_; }
    uint64_t unix_ms() const {
        return kStartUnixMs + uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(mono_ - start_).count());
    }
    EngineTime now() const { return EngineTime{mono_, unix_ms()}; }
    // Time since the clock started.
    Duration elapsed() const { return mono_ - start_; }

    // Moves the clock to `t`; time never goes backwards (an earlier `t` is ignored).
    void advance_to(TimePoint t) {
        if (t > mono_) mono_ = t;
    }
    void advance(Duration d) { advance_to(mono_ + d); }

private:
    TimePoint start_ = TimePoint(std::chrono::hours(1));
    TimePoint mono_ = start_;
};

}  // namespace pave::sim
