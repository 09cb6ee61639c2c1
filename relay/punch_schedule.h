// When to send the next round of hole-punching probes: fast at first, then backing off,
// bounded. Rounds 0..9 are 50 ms apart (round 0 at the start); after that the gap doubles
// (100, 200, 400, 800 ms) up to 1 s. No round is scheduled at or after start + timeout, and
// there are never more than kMaxRounds rounds. Each gap is measured from when the previous
// round actually fired, so a late timer never causes a burst.
#pragma once
#include <chrono>
#include <optional>

namespace pave {

class PunchSchedule {
public:
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr unsigned kFastRounds = 10;
    static constexpr std::chrono::milliseconds kFastGap{50};
    static constexpr std::chrono::milliseconds kMaxGap{1000};
    static constexpr unsigned kMaxRounds = 40;

    PunchSchedule(time_point start, std::chrono::milliseconds timeout);

    // The time of the next round (possibly already past), or nullopt when the schedule is
    // exhausted or `now` is at or past the timeout.
    std::optional<time_point> next(time_point now) const;
    // A round should be sent now.
    bool due(time_point now) const;
    // A round was sent at `now`.
    void fired(time_point now);
    // now >= start + timeout.
    bool expired(time_point now) const;
    unsigned rounds() const { return rounds_; }
    time_point deadline() const { return deadline_; }

    // The gap before round `round` (round >= 1).
    static std::chrono::milliseconds gap_before(unsigned round);

private:
    time_point start_;
    time_point deadline_;
    time_point last_{};
    unsigned rounds_ = 0;
};

}  // namespace pave
