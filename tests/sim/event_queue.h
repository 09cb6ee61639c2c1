// The simulator's event queue: closures due at virtual times, run in time order (ties in the
// order they were scheduled, so a run is deterministic). Running an event first moves the
// virtual clock to its time.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "tests/sim/sim_clock.h"

namespace pave::sim {

class EventQueue {
public:
    using Fn = std::function<void()>;
    using Id = uint64_t;

    explicit EventQueue(VirtualClock& clock) : clock_(clock) {}

    VirtualClock& clock() { return clock_; }
    TimePoint now() const { return clock_.mono(); }

    // Schedules fn at `t` (a time in the past runs at the next step, without moving the clock
    // back). Returns an id for cancel().
    Id at(TimePoint t, Fn fn);
    Id after(Duration d, Fn fn) { return at(now() + d, std::move(fn)); }
    // True if the event was still pending.
    bool cancel(Id id);

    // Runs the earliest event if it is due at or before `limit`; false if there is none.
    bool run_next(TimePoint limit);
    // Runs every event due at or before `t` (including those they schedule), then moves the
    // clock to `t`. Stops after `max_events` (a guard against a run that never settles) and
    // returns how many ran.
    size_t run_until(TimePoint t, size_t max_events = 10'000'000);
    size_t run_for(Duration d, size_t max_events = 10'000'000) { return run_until(now() + d, max_events); }
    // Runs until `done()` holds (checked after every event) or `limit` is reached; true if it held.
    bool run_until_true(const std::function<bool()>& done, Duration limit);

    size_t pending() const { return events_.size(); }
    std::optional<TimePoint> next_time() const;
    uint64_t ran() const { return ran_; }

private:
    VirtualClock& clock_;
    // Keyed by (time, sequence number): equal times run in scheduling order.
    std::map<std::pair<TimePoint, Id>, Fn> events_;
    std::map<Id, TimePoint> index_;
    Id next_id_ = 1;
    uint64_t ran_ = 0;
};

}  // namespace pave::sim
