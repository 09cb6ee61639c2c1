#include "relay/wire/replay_window.h"

namespace pave {

namespace {
constexpr uint64_t bit_of(uint64_t counter) { return uint64_t{1} << (counter % 64); }
}  // namespace

bool ReplayWindow::check(uint64_t counter) const {
    if (!any_ || counter > highest_) return true;
    if (highest_ - counter >= kWindow) return false;
    return (bits_[(counter / 64) % kWords] & bit_of(counter)) == 0;
}

void ReplayWindow::accept(uint64_t counter) {
    if (!check(counter)) return;
    if (!any_ || counter > highest_) {
        const uint64_t new_word = counter / 64;
        if (!any_) {
            bits_.fill(0);
        } else {
            const uint64_t cur_word = highest_ / 64;
            const uint64_t advance = new_word - cur_word;
            if (advance >= kWords) {
                bits_.fill(0);
            } else {
                for (uint64_t i = 1; i <= advance; ++i) bits_[(cur_word + i) % kWords] = 0;
            }
        }
        highest_ = counter;
        any_ = true;
    }
    bits_[(counter / 64) % kWords] |= bit_of(counter);
}

}  // namespace pave
