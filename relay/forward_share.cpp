#include "relay/forward_share.h"

#include <algorithm>
#include <cmath>

namespace pave {

ForwardShare::ForwardShare(double bytes_per_s)
    : capacity_(std::isfinite(bytes_per_s) && bytes_per_s > 0 ? bytes_per_s : kDefaultBytesPerS) {}

uint64_t ForwardShare::second_of(time_point now) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return s < 0 ? 1 : uint64_t(s) + 1;
}

void ForwardShare::advance(uint64_t second) {
    if (second <= second_) return;  // the same second, or a clock that stepped back
    last_second_ = second == second_ + 1 ? this_second_ : 0;
    this_second_ = 0;
    second_ = second;
}

double ForwardShare::share(uint64_t& seen, time_point now) {
    advance(second_of(now));
    if (seen != second_) {
        seen = second_;
        ++this_second_;
    }
    return capacity_ / double(std::max(this_second_, last_second_));
}

size_t ForwardShare::active(time_point now) const {
    const uint64_t s = second_of(now);
    if (s > second_ + 1) return 1;
    if (s == second_ + 1) return std::max<size_t>(1, this_second_);
    return std::max<size_t>({1, this_second_, last_second_});
}

}  // namespace pave
