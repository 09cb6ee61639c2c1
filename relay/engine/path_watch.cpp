#include "relay/engine/path_watch.h"

#include <algorithm>

namespace pave {

PathWatch::Clock::duration PathWatch::probe_after(std::optional<std::chrono::microseconds> srtt) {
    return std::max<Clock::duration>(srtt ? Clock::duration(*srtt * 2) : Clock::duration::zero(), kProbeFloor);
}

PathWatch::Clock::duration PathWatch::dead_after(std::optional<std::chrono::microseconds> srtt) {
    return std::max<Clock::duration>(srtt ? Clock::duration(*srtt * 3) : Clock::duration::zero(), kDeadFloor);
}

bool PathWatch::on_sent(Clock::time_point now, Clock::time_point last_heard) {
    if (since_ && last_heard < *since_) return false;  // still waiting for an answer
    since_ = now;
    first_probe_.reset();
    probes_ = 0;
    return true;
}

PathWatch::Poll PathWatch::poll(Clock::time_point now, Clock::time_point last_heard,
                                std::optional<std::chrono::microseconds> srtt) {
    Poll p;
    if (!since_) return p;
    if (last_heard >= *since_) {
        reset();
        return p;
    }
    if (probes_ == 0) {
        if (now - *since_ >= probe_after(srtt)) {
            p.probe = true;
            probes_ = 1;
            first_probe_ = now;
        }
        return p;
    }
    const auto dead = dead_after(srtt);
    if (now - *first_probe_ >= dead) {
        p.dead = true;
        return p;
    }
    if (probes_ == 1 && now - *first_probe_ >= dead / 2) {
        p.probe = true;
        probes_ = 2;
    }
    return p;
}

PathWatch::Clock::time_point PathWatch::deadline(std::optional<std::chrono::microseconds> srtt) const {
    if (!since_) return Clock::time_point::max();
    if (probes_ == 0) return *since_ + probe_after(srtt);
    if (probes_ == 1) return *first_probe_ + dead_after(srtt) / 2;
    return *first_probe_ + dead_after(srtt);
}

}  // namespace pave
