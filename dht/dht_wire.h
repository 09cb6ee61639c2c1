// What PAVE reads from, and adds to, OpenDHT 2.4's own datagrams on the shared port.
//
// An OpenDHT message is one msgpack map. PAVE reads only the top level: whether it is a
// request ("q" names the query) or something owed to a peer (a reply "r", an error "e", a part
// of a value "p", a listen update "u"), and its transaction id "t" (a 32-bit integer, or 4
// big-endian bytes in older peers). The amplification guard needs both: what a node sends on
// its own initiative differs from what it sends because of a datagram that may be spoofed, and
// a reply that echoes a transaction id sent to an address proves that the address receives.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/bytes.h"

namespace pave {

enum class DhtMessageKind { request, reply, error, value_part, listen_update };

struct DhtMessageInfo {
    DhtMessageKind kind = DhtMessageKind::request;
    std::optional<uint32_t> tid;
};

// Largest datagram read (OpenDHT splits larger messages into value parts).
inline constexpr size_t kDhtMaxDatagram = 65507;

// nullopt when `wire` is not exactly one msgpack map, or names no kind. Bounded: nested sizes are
// limited, and only the top-level keys are looked at. Never throws.
std::optional<DhtMessageInfo> inspect_dht_message(ByteView wire);

// OpenDHT's key "s" (is_client): a peer that receives a message carrying "s": true keeps the
// sender out of its routing table, so it never hands the sender's address to other nodes.
// OpenDHT 2.4 parses the key but never sends it; the client role adds it to every message.
// Writes `wire` with the pair appended (the map's count raised by one) to `out`; false (out
// unspecified) when `wire` does not start with a map header, or the map is full.
bool mark_as_client(ByteView wire, std::vector<uint8_t>& out);

}  // namespace pave
