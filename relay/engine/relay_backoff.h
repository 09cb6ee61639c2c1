// Relays a client avoids for a while after they failed it: refused a rendezvous (full, or
// carrying enough sessions from its address), failed to punch, went silent, closed or died as
// the active relay, or lost a standby session. Each failure doubles the time the relay is
// avoided, from kFirst up to kMax; a relay that has not failed again for kMax after its avoid
// time ran out starts from kFirst again. A client refused everywhere thus retries each relay
// at most once per kMax instead of at once, forever. I/O-free; bounded (kMaxEntries: when
// full, the entry whose avoid time ends first is forgotten).
#pragma once
#include <chrono>
#include <cstddef>
#include <map>
#include <vector>

#include "crypto/ed25519_key.h"
#include "dht/directory.h"

namespace pave {

class RelayBackoff {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds kFirst{2};
    static constexpr std::chrono::seconds kMax{120};
    static constexpr size_t kMaxEntries = 1024;

    // The relay failed us now: avoided for twice as long as last time (kFirst the first time).
    void failed(const Ed25519Public& relay, Clock::time_point now);
    // The relay served us (a path validated): forgotten.
    void succeeded(const Ed25519Public& relay) { entries_.erase(relay); }
    bool avoided(const Ed25519Public& relay, Clock::time_point now) const;
    // When the relay is no longer avoided (now or earlier if it is not).
    Clock::time_point until(const Ed25519Public& relay) const;
    // `live` without the relays avoided now.
    std::vector<RelayInfo> filter(const std::vector<RelayInfo>& live, Clock::time_point now) const;
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        Clock::time_point until{};
        Clock::duration last{};
    };
    std::map<Ed25519Public, Entry> entries_;
};

}  // namespace pave
