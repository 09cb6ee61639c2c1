// The amplification budget of one shared UDP port (RFC 9000 §8, applied to every protocol the
// port carries that answers strangers: OpenDHT, STUN, address checks).
//
// Toward an address that has not proven it receives there, the port sends at most three times
// the bytes it received from that address. An address proves it (is *validated*) in one of two
// ways, both a round trip it cannot fake without receiving at the address:
//  - an address check (relay/wire/address_check.h): it echoes a keyed cookie made for its address;
//    PAVE nodes answer these, so two PAVE nodes validate each other within one round trip;
//  - an OpenDHT reply or error from it that carries a transaction id this port sent to exactly
//    that address within the last kTidWindow; any OpenDHT node does this when the port's own
//    node queries it. OpenDHT picks transaction ids per peer from a non-cryptographic
//    generator, so this proof is weaker than a cookie: a spoofer must guess the 32-bit id of a
//    request in flight to the victim.
// Validation lasts kValidFor after the latest proof.
//
// What is sent and what is held:
//  - a reply (anything a peer's datagram may have caused: OpenDHT replies, errors, value parts,
//    listen updates, STUN answers, address-check answers) to an unvalidated address goes out
//    only while sent + size <= 3 x received. Otherwise it is *held* (bounded per address and in
//    total, for at most hold_for) and a challenge goes out instead, if that fits the budget;
//    once the address validates, the held datagrams are sent; if it never does, they are
//    dropped and counted.
//  - a request (the node's own initiative: OpenDHT queries, STUN binding requests) toward an
//    address that has sent nothing gets a small first-contact credit, so a node can bootstrap
//    and query peers it learnt of; past it the request is held as above. The credit is also
//    bounded in total per second, since node lists that name a victim are attacker-chosen.
// Address table: bounded; an unvalidated entry is evicted before a validated one (least
// recently used first), so a flood of spoofed sources cannot push out real peers. An evicted
// address starts again with no budget, which only makes the port stricter toward it.
//
// I/O-free and thread-safe (OpenDHT sends from its own thread): callers pass time in and send
// what the returned plans say.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "relay/wire/address_check.h"
#include "relay/wire/endpoint.h"
#include "relay/rate_limiter.h"

namespace pave {

class AmplificationGuard {
public:
    using Clock = std::chrono::steady_clock;
    using time_point = Clock::time_point;

    static constexpr uint64_t kFactor = 3;
    static constexpr std::chrono::seconds kValidFor{600};
    static constexpr std::chrono::seconds kTidWindow{30};

    struct Limits {
        size_t max_entries = 8192;
        uint64_t first_contact_bytes = 1200;       // per address that has sent nothing
        double first_contact_rate = 64 * 1024;     // bytes per second, all addresses together
        double first_contact_burst = 256 * 1024;
        size_t held_bytes_per_address = 64 * 1024;
        size_t held_bytes_total = 4 << 20;
        std::chrono::milliseconds hold_for{3000};
        std::chrono::milliseconds check_interval{500};  // between challenges to one address
    };

    enum class Traffic { reply, request };
    enum class Action { send, held, dropped };

    struct SendPlan {
        Action action = Action::send;
        std::optional<ByteArray<kAddressCheckSize>> challenge;  // send it (before or instead)
    };
    struct Flush {
        Endpoint to;
        std::vector<Bytes> datagrams;  // held for `to`, now validated: send them in order
    };
    struct CheckPlan {
        std::optional<ByteArray<kAddressCheckSize>> answer;  // send it back to the sender
        std::optional<Flush> flush;
    };

    enum class Counter {
        sent_unvalidated_bytes,  // within the budget
        held,                    // datagrams held for a check
        held_sent,               // held datagrams sent after validation
        held_dropped,            // held datagrams dropped (no validation in time, caps)
        dropped,                 // neither sendable nor holdable
        challenges_sent,
        validated_cookie,
        validated_tid,
        checks_invalid,          // responses or confirms with a cookie that does not verify
        evicted,
        count_
    };
    static const char* to_string(Counter c);

    AmplificationGuard();
    explicit AmplificationGuard(const Limits& limits, std::optional<ByteArray<32>> cookie_secret = std::nullopt);

    // A datagram of a guarded protocol arrived from `from`. Returns a challenge to send back
    // if `from` is unvalidated and is due one (ask = false: count only).
    std::optional<ByteArray<kAddressCheckSize>> on_received(const Endpoint& from, size_t bytes, time_point now,
                                                            bool ask = true);
    // Before sending `datagram` to `to`. When the plan says held, the guard keeps a copy.
    SendPlan plan_send(const Endpoint& to, ByteView datagram, Traffic traffic, time_point now);
    // A parsed address check from `from` (its bytes already counted by on_received).
    CheckPlan on_check(const Endpoint& from, const AddressCheck& m, time_point now);
    // The node sent an OpenDHT request with this transaction id to `to`.
    void on_request_tid(const Endpoint& to, uint32_t tid, time_point now);
    // An OpenDHT reply or error from `from` with this transaction id: validates `from` if the id
    // was sent to it; returns what was held for it.
    std::optional<Flush> on_reply_tid(const Endpoint& from, uint32_t tid, time_point now);
    // Drops held datagrams older than hold_for; call about once a second.
    void expire(time_point now);

    bool validated(const Endpoint& ep, time_point now) const;
    uint64_t count(Counter c) const;
    size_t entries() const;
    size_t held_bytes() const;

private:
    using Key = ByteArray<18>;  // IPv6 (IPv4-mapped for IPv4) address and port
    struct Held {
        Bytes data;
        time_point at;
    };
    struct Entry {
        Endpoint ep;
        uint64_t received = 0;
        uint64_t sent = 0;
        time_point valid_until{};
        time_point last_challenge{};
        std::deque<Held> held;
        size_t held_bytes = 0;
        std::array<uint32_t, 8> tids{};
        std::array<time_point, 8> tid_at{};
        size_t next_tid = 0;
        bool in_validated_list = false;
        std::list<Key>::iterator lru;
    };

    static Key key_of(const Endpoint& ep);
    static uint64_t seconds(time_point now);
    Entry& entry(const Endpoint& ep, time_point now);
    Entry* find(const Endpoint& ep);
    const Entry* find(const Endpoint& ep) const;
    void touch(Entry& e, const Key& k, time_point now);
    void evict_one();
    bool is_valid(const Entry& e, time_point now) const { return e.valid_until > now; }
    bool fits(const Entry& e, size_t bytes) const { return e.sent + bytes <= kFactor * e.received; }
    std::optional<ByteArray<kAddressCheckSize>> maybe_challenge(Entry& e, time_point now, bool first_contact);
    std::optional<Flush> validate(Entry& e, const Key& k, time_point now, Counter how);
    void drop_held(Entry& e);
    void bump(Counter c, uint64_t n = 1) { counts_[size_t(c)] += n; }

    Limits limits_;
    CookieJar jar_;
    TokenBucket first_contact_;
    mutable std::mutex mu_;
    std::map<Key, Entry> table_;
    std::list<Key> unvalidated_lru_, validated_lru_;  // front = least recently used
    size_t held_total_ = 0;
    std::array<uint64_t, size_t(Counter::count_)> counts_{};
};

}  // namespace pave
