// Calls an engine's on_tick at the deadline it asked for: after every call into the engine the
// host passes the engine's next deadline to want(); the ticker keeps one event in the queue, at
// the earliest deadline asked for. A deadline returned by on_tick itself that is not in the
// future is taken as "1 ms from now", so an engine cannot stall virtual time.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

#include "tests/sim/event_queue.h"

namespace pave::sim {

class EngineTicker {
public:
    // tick: runs the engine's on_tick at the current virtual time and returns its next deadline.
    EngineTicker(EventQueue& events, std::function<TimePoint()> tick) : events_(events), tick_(std::move(tick)) {}
    ~EngineTicker() { stop(); }
    EngineTicker(const EngineTicker&) = delete;
    EngineTicker& operator=(const EngineTicker&) = delete;

    void want(TimePoint deadline) {
        if (stopped_) return;
        deadline = std::max(deadline, events_.now());
        if (id_ && at_ <= deadline) return;
        if (id_) events_.cancel(*id_);
        at_ = deadline;
        id_ = events_.at(deadline, [this] {
            id_.reset();
            ++ticks_;
            TimePoint next = tick_();
            want(std::max(next, events_.now() + std::chrono::milliseconds(1)));
        });
    }
    // No more ticks (the engine is gone or silenced).
    void stop() {
        stopped_ = true;
        if (id_) events_.cancel(*id_);
        id_.reset();
    }
    void resume() { stopped_ = false; }
    uint64_t ticks() const { return ticks_; }

private:
    EventQueue& events_;
    std::function<TimePoint()> tick_;
    std::optional<EventQueue::Id> id_;
    TimePoint at_{};
    bool stopped_ = false;
    uint64_t ticks_ = 0;
};

}  // namespace pave::sim
