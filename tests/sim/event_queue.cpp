#include "tests/sim/event_queue.h"

namespace pave::sim {

EventQueue::Id EventQueue::at(TimePoint t, Fn fn) {
    if (t < now()) t = now();
    Id id = next_id_++;
    events_.emplace(std::make_pair(t, id), std::move(fn));
    index_.emplace(id, t);
    return id;
}

bool EventQueue::cancel(Id id) {
    auto it = index_.find(id);
    if (it == index_.end()) return false;
    events_.erase({it->second, id});
    index_.erase(it);
    return true;
}

bool EventQueue::run_next(TimePoint limit) {
    if (events_.empty()) return false;
    auto it = events_.begin();
    if (it->first.first > limit) return false;
    clock_.advance_to(it->first.first);
    Fn fn = std::move(it->second);
    index_.erase(it->first.second);
    events_.erase(it);
    ++ran_;
    fn();
    return true;
}

size_t EventQueue::run_until(TimePoint t, size_t max_events) {
    size_t n = 0;
    while (n < max_events && run_next(t)) ++n;
    if (n < max_events) clock_.advance_to(t);
    return n;
}

bool EventQueue::run_until_true(const std::function<bool()>& done, Duration limit) {
    TimePoint end = now() + limit;
    if (done()) return true;
    while (run_next(end))
        if (done()) return true;
    clock_.advance_to(end);
    return done();
}

std::optional<TimePoint> EventQueue::next_time() const {
    if (events_.empty()) return std::nullopt;
    return events_.begin()->first.first;
}

}  // namespace pave::sim
