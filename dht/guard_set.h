// The client's guards: a small set of relays it uses for weeks instead of a fresh random relay
// for every connection (Tor's entry guards, for the same reason). I/O-free; randomness from
// crypto/random; time is passed in (unix seconds).
//
// Relay keys are free, so a VPN provider can run a large fraction f of the relays. A client
// that picks afresh for every connection meets one of them with probability 1-(1-f)^k after k
// connections; with guards the exposure is decided when the guards are chosen, and stays so
// until a guard is replaced. What holds:
//   - guards are drawn uniformly at random among relays this client has known for at least
//     min_age (new records get no say until then), kGuards of them;
//   - address diversity: no two guards on one /24 (IPv4) or /48 (IPv6): a relay whose record
//     names an address on a guard's network is not drawn, and a guard that serves from another
//     guard's network (the address it really uses) is dropped and replaced;
//   - a guard is replaced only when it has stayed silent for fail_limit consecutive rendezvous
//     spread over at least fail_span, three days (a relay that is down for a while, or a client
//     whose network is, does not lose its guards; an adversary who wants the client on its own
//     relays must keep an honest guard silent for days), or when it has been a guard for
//     lifetime. A refusal (full, or enough sessions from the client's address) is no failure:
//     others can provoke it (filling the relay, spoofing the client's address), so it only
//     moves this one connection to another guard or relay;
//   - everything is kept in the state dir (GuardState, encoded by encode_guard_state), so a
//     restart keeps the guards and the ages of the relays seen.
// What it does not do: a guard that answers rendezvous but never carries traffic is not
// detected here (the session's own failures count as the backoff's, not as guard failures).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dht/directory.h"
#include "relay/wire/endpoint.h"

namespace pave {

struct Guard {
    Ed25519Public node_pub{};
    uint64_t added_s = 0;
    uint32_t failures = 0;        // consecutive failed rendezvous
    uint64_t first_failure_s = 0;  // of the current run of failures
    Bytes prefix;                  // the /24 or /48 it served from (empty until it served)
};

// The network a relay's address belongs to for diversity: the first 3 bytes of a public IPv4
// address, the first 6 of a public IPv6 one (IPv4-mapped IPv6 counts as IPv4); empty for
// loopback, private and other non-public addresses (no diversity rule among LAN relays).
Bytes diversity_prefix(const Endpoint& addr);

class GuardSet {
public:
    struct Params {
        size_t size = 3;
        uint64_t min_age_s = 600;           // in this client's directory before it may become a guard
        uint32_t fail_limit = 3;            // consecutive failed rendezvous ...
        uint64_t fail_span_s = 3 * 86400;   // ... spread over at least this long
        uint64_t lifetime_s = 60 * 86400;   // then replaced anyway
    };
    GuardSet() : GuardSet(Params{}) {}
    explicit GuardSet(Params p) : p_(p) {}

    // Drops guards past their lifetime and fills empty places from `live` relays whose first
    // sighting is at least min_age old (RelayInfo::first_seen), at random. True if it changed.
    bool refill(const std::vector<RelayInfo>& live, uint64_t now_s);
    bool is_guard(const Ed25519Public& pub) const;
    // The relay served (a path validated) from `addr`: its failures are forgotten and its
    // network recorded; a guard on another guard's network is dropped (true if dropped).
    bool on_served(const Ed25519Public& pub, const Endpoint& addr, uint64_t now_s);
    // A failed rendezvous (silent, refused): true if the guard was dropped for it.
    bool on_failed(const Ed25519Public& pub, uint64_t now_s);
    // The buckets the guards' records live in (read when an attempt begins).
    std::vector<unsigned> buckets() const;

    const std::vector<Guard>& guards() const { return guards_; }
    const Params& params() const { return p_; }
    uint64_t replaced() const { return replaced_; }
    // For the state file: replaces the guards (at most Params::size are kept).
    void restore(std::vector<Guard> g);

private:
    Params p_;
    std::vector<Guard> guards_;
    uint64_t replaced_ = 0;
};

// The state file of a client's relay memory (`guards` in the state dir): its guards and when it
// first saw each relay. Text, one record per line:
//   pave-guards 1
//   guard <node key hex 64> <added unix s> <failures> <first failure unix s> <prefix hex or ->
//   seen <node key hex 64> <first seen unix s>
//   replica-seed <32 hex digits>      (the directory replica seed, dht/directory_reads.h)
// Bounded: at most kMaxGuardStateBytes, kMaxGuardLines guards, kMaxSeenLines sightings, lines
// of at most 200 bytes, every number in range (times below kMaxPresenceTime, failures at most
// 1000, prefixes of 3 or 6 bytes). Anything else refuses the whole file (the client starts
// with no guards and says why).
inline constexpr size_t kMaxGuardStateBytes = 512 * 1024;
inline constexpr size_t kMaxGuardLines = 16;
inline constexpr size_t kMaxSeenLines = 8192;

struct GuardState {
    std::vector<Guard> guards;
    std::map<Ed25519Public, uint64_t> first_seen;
    std::optional<ByteArray<16>> replica_seed;
};
std::string encode_guard_state(const GuardState& s);
// std::nullopt with `why` set when the text is not a valid state file.
std::optional<GuardState> decode_guard_state(std::string_view text, std::string* why = nullptr);

}  // namespace pave
