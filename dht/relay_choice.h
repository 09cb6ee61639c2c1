// Which relays a client asks for a rendezvous, and when (I/O-free: fed the live directory and
// the time).
//
// Relay keys are free, so the directory may hold many records of relays that never answer. A
// client that asked one relay at a time and waited for each could be kept from connecting by
// a few hundred such records. So the client asks several at once, each offer with its own
// ephemeral key, session id and hello id; the first accepted answer wins. The pace rises
// while nobody answers:
//   calm   a new offer every calm_spacing, at most calm_outstanding waiting (a healthy swarm
//          answers before a second or third offer is due, so few relays are asked in vain);
//   brisk  after brisk_after without an answer: brisk_spacing, brisk_outstanding;
// The spacing is a rate: a caller that polls less often than the spacing gets the offers it
// missed, up to kCatchUp's worth, at its next poll.
//   flood  once an offer has gone unanswered for answer_wait: flood_spacing, flood_outstanding
//          (about 30 offers a second: a directory of 300 silent records and 2 real relays is
//          gone through in about 14 s, and one of the two real ones is met after 7 s at the
//          median, 13 s at worst in 200 simulated runs; see test_relay_choice.cpp).
// Relays this node has seen answer (RelayInfo::answered) are asked first; then relays not yet
// asked in this cycle, uniformly at random; when every live relay has been asked and none is
// waiting, a new cycle starts (a relay may have been busy or its answer lost).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "dht/directory.h"

namespace pave {

class RelayChoice {
public:
    using Clock = std::chrono::steady_clock;
    struct Params {
        std::chrono::milliseconds calm_spacing{400};
        size_t calm_outstanding = 3;
        std::chrono::milliseconds brisk_after{1500};
        std::chrono::milliseconds brisk_spacing{100};
        size_t brisk_outstanding = 32;
        std::chrono::milliseconds flood_spacing{33};
        size_t flood_outstanding = 150;
        std::chrono::milliseconds answer_wait{5000};
    };
    enum class Pace { calm, brisk, flood };

    explicit RelayChoice(Clock::time_point start) : RelayChoice(start, Params{}) {}
    RelayChoice(Clock::time_point start, Params p);

    // The relay to ask now, if the pace allows one and a live relay is left to ask; it is
    // then counted as waiting until on_answer, on_silent or on_cancel.
    std::optional<RelayInfo> next(const std::vector<RelayInfo>& live, Clock::time_point now);
    // Every live relay has been asked in this cycle and none is waiting: the next next() starts
    // a new cycle (a caller may first look for relays it does not know yet).
    bool cycle_over(const std::vector<RelayInfo>& live) const;
    // Relays whose offer has waited answer_wait: each is counted silent and no longer waiting.
    std::vector<Ed25519Public> take_silent(Clock::time_point now);
    void on_answer(const Ed25519Public& relay);  // any answer, accepted or not
    void on_cancel(const Ed25519Public& relay);  // no longer waited for (e.g. another one won)

    Pace pace(Clock::time_point now) const;
    // When next() or take_silent() may have something new.
    Clock::time_point next_deadline(Clock::time_point now) const;
    size_t waiting() const { return waiting_.size(); }
    uint64_t asked() const { return asked_; }
    uint64_t answered() const { return answered_; }
    uint64_t silent() const { return silent_; }
    uint64_t cycles() const { return cycles_; }
    size_t distinct_asked() const { return ever_asked_.size(); }

private:
    Params p_;
    Clock::time_point start_;
    static constexpr std::chrono::milliseconds kCatchUp{200};
    std::optional<Clock::time_point> next_allowed_;
    std::map<Ed25519Public, Clock::time_point> waiting_;  // relay -> when asked
    std::set<Ed25519Public> tried_;                        // asked in this cycle
    std::set<Ed25519Public> ever_asked_;
    uint64_t asked_ = 0, answered_ = 0, silent_ = 0, cycles_ = 0;
};

const char* to_string(RelayChoice::Pace p);

}  // namespace pave
