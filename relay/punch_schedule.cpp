#include "relay/punch_schedule.h"

#include <algorithm>

namespace pave {

PunchSchedule::PunchSchedule(time_point start, std::chrono::milliseconds timeout)
    : start_(start), deadline_(start + std::max(timeout, std::chrono::milliseconds(0))) {}

std::chrono::milliseconds PunchSchedule::gap_before(unsigned round) {
    if (round < kFastRounds) return kFastGap;
    const unsigned doublings = round - kFastRounds + 1;
    if (doublings >= 5) return kMaxGap;  // 50 ms << 5 = 1600 ms > 1 s
    return std::min(kFastGap * (1u << doublings), kMaxGap);
}

std::optional<PunchSchedule::time_point> PunchSchedule::next(time_point now) const {
    if (rounds_ >= kMaxRounds || expired(now)) return std::nullopt;
    const time_point t = rounds_ == 0 ? start_ : last_ + gap_before(rounds_);
    if (t >= deadline_) return std::nullopt;
    return t;
}

bool PunchSchedule::due(time_point now) const {
    const auto t = next(now);
    return t && now >= *t;
}

void PunchSchedule::fired(time_point now) {
    ++rounds_;
    last_ = now;
}

bool PunchSchedule::expired(time_point now) const { return now >= deadline_; }

}  // namespace pave
