// The rendezvous datagrams a client and a relay exchange directly, on their shared ports, in
// place of any answer on the DHT:
//   hello   client -> relay's public endpoint (from its presence record), repeated a few times
//           after the offer is put: it opens the client's NAT toward the relay and asks for the
//           answer to the offer named by the hello id.
//   answer  relay -> the hello's source: the sealed answer (dht/rendezvous_blob.h), sent only in
//           reply to a hello carrying the id of an offer the relay opened, and at most
//           kRendezvousHelloSize x 3 >= kRendezvousAnswerFrameSize bytes per hello (the
//           amplification rule holds per datagram, not just per budget).
//
// Wire layout:
//   0   1 byte   kRendezvousFrameByte
//   1   8 bytes  hello id: the first 8 bytes of HKDF-Expand(exporter output of the offer,
//                "pave/v1/hello-id") (rendezvous_hello_id), known only to the client and to the
//                relay that opened the offer
//   9   rest     hello: random filler to kRendezvousHelloSize bytes;
//                answer: the kRendezvousValueSize-byte sealed answer
// The two kinds are told apart by their exact sizes; any other size is not a rendezvous frame.
// A hello carries nothing that names the client, the relay or the offer to anyone who did not
// seal or open the offer; the answer is HPKE ciphertext.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "crypto/bytes.h"

namespace pave {

inline constexpr uint8_t kRendezvousFrameByte = 0x52;
inline constexpr size_t kRendezvousHelloIdSize = 8;
inline constexpr size_t kRendezvousFrameHeader = 1 + kRendezvousHelloIdSize;
inline constexpr size_t kRendezvousHelloSize = 192;
inline constexpr size_t kRendezvousSealedSize = 512;  // == kRendezvousValueSize (checked in rendezvous_frame.cpp)
inline constexpr size_t kRendezvousAnswerFrameSize = kRendezvousFrameHeader + kRendezvousSealedSize;
static_assert(3 * kRendezvousHelloSize >= kRendezvousAnswerFrameSize, "an answer must fit 3x its hello");

using HelloId = ByteArray<kRendezvousHelloIdSize>;

struct RendezvousFrame {
    enum class Kind { hello, answer };
    Kind kind = Kind::hello;
    HelloId id{};
    ByteView sealed;  // answer only: a view into the parsed datagram
};

// Exactly kRendezvousHelloSize or kRendezvousAnswerFrameSize bytes with the first byte
// kRendezvousFrameByte (the demultiplexing rule, relay/wire/demux.h).
bool is_rendezvous_frame(ByteView pkt);
// nullopt for anything is_rendezvous_frame refuses; never reads outside pkt.
std::optional<RendezvousFrame> parse_rendezvous_frame(ByteView pkt);

// A hello: the id, then random filler (crypto/random).
Bytes make_rendezvous_hello(const HelloId& id);
// An answer frame; empty unless sealed is kRendezvousSealedSize bytes.
Bytes make_rendezvous_answer(const HelloId& id, ByteView sealed);

// A relay that refuses an offer opens its NAT toward the client's candidates with this, so the
// client's next hello can fetch the refusal: kRendezvousOpenerSize bytes, kRendezvousFrameByte
// then random filler. It is no rendezvous frame (its size is neither kind's): the client drops it.
inline constexpr size_t kRendezvousOpenerSize = 64;
Bytes make_rendezvous_opener();

}  // namespace pave
