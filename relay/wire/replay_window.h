// Anti-replay sliding window over 64-bit message counters (bitmap ring in the style of
// RFC 6479): remembers which of the last kWindow counters below the highest one seen were
// accepted. A counter is acceptable if it is above the highest seen, or inside the window and
// not yet seen. Counters at or below (highest - kWindow) are rejected as too old.
//
// check() is cheap and is meant to run before authentication; accept() must be called only
// once the message carrying the counter has been authenticated.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace pave {

class ReplayWindow {
public:
    static constexpr uint64_t kWindow = 2048;

    // True iff accept(counter) would record a counter that was never accepted before.
    bool check(uint64_t counter) const;
    // Records counter as seen; a counter check() rejects is ignored.
    void accept(uint64_t counter);

    // Highest accepted counter, if any was accepted.
    bool empty() const { return !any_; }
    uint64_t highest() const { return highest_; }

private:
    // One word more than the window so that the words of the (highest - kWindow, highest]
    // range never alias in the ring.
    static constexpr size_t kWords = kWindow / 64 + 1;

    std::array<uint64_t, kWords> bits_{};
    uint64_t highest_ = 0;
    bool any_ = false;
};

}  // namespace pave
