// The sealed rendezvous messages: a client's offer to a relay, put on an inbox shard key of the
// DHT (dht/inbox_keys.h), and the relay's answer, sent over UDP straight to the client in reply
// to its hello (relay/wire/rendezvous_frame.h). Both have one fixed size and one layout, enc (32)
// || HPKE ciphertext of a fixed-size zero-padded plaintext, so a storer or an observer learns
// nothing but that size.
//
// Field ranges, checked by the decoders (and the encoders, so that both agree):
//   timestamp_ms   in [kRendezvousMinTimestampMs, kRendezvousMaxTimestampMs] and a whole number of
//                  seconds (a millisecond clock would tell the reader the writer's clock skew,
//                  a fingerprint: use rendezvous_timestamp_now); freshness against
//                  the reader's clock (rendezvous_timestamp_fresh) and replay are the caller's
//   candidates     at most kRendezvousMaxCandidates; an accepted answer names at least one, a
//                  refusal none
//   endpoints      family 4 or 6 (IPv4-mapped IPv6 written as IPv4), port not 0, a unicast
//                  address (not unspecified, multicast or broadcast); whether an address may be
//                  used (loopback, private, own) is the endpoint policy's call, by the reader
//   refuse_code    0 when accepted, else kRefuseFirst..kRefuseLast; a refusal carries no key share
//   refuse_reason  printable ASCII, at most kRendezvousMaxReason, empty when accepted
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519_key.h"
#include "crypto/x25519.h"
#include "relay/wire/endpoint.h"

namespace pave {

inline constexpr uint8_t kRendezvousVersion = 0x01;
inline constexpr size_t kRendezvousValueSize = 512;
inline constexpr size_t kRendezvousEncSize = 32;
inline constexpr size_t kRendezvousTagSize = 16;
inline constexpr size_t kRendezvousPlaintextSize = kRendezvousValueSize - kRendezvousEncSize - kRendezvousTagSize;
inline constexpr size_t kRendezvousMaxCandidates = 8;
inline constexpr size_t kRendezvousMaxReason = 64;
inline constexpr size_t kAnswerKeyMaterialSize = 32;
inline constexpr uint64_t kRendezvousMinTimestampMs = 1'600'000'000'000;  // 2020-09-13
inline constexpr uint64_t kRendezvousMaxTimestampMs = 4'102'444'800'000;  // 2100-01-01
inline constexpr uint64_t kRendezvousClockSkewMs = 60'000;

struct Offer {
    ByteArray<16> session_id{};
    ByteArray<32> client_share{};  // the client's ephemeral X25519 public key (answer and ee DH)
    std::vector<Endpoint> candidates;  // at most kRendezvousMaxCandidates
    Endpoint vpn;
    uint64_t timestamp_ms = 0;
};

// Answer::refuse_code values.
inline constexpr uint8_t kRefuseEndpoint = 1;      // the VPN endpoint is not allowed (same at every relay)
inline constexpr uint8_t kRefuseCapacity = 2;      // this relay is full: another one may have room
inline constexpr uint8_t kRefuseNoCandidates = 3;  // the offer named no address to punch to
inline constexpr uint8_t kRefuseInternal = 4;      // the relay failed locally
inline constexpr uint8_t kRefuseFirst = kRefuseEndpoint;
inline constexpr uint8_t kRefuseAddressLimit = 5;  // this relay carries as many sessions from the client's
                                                   // address as it allows: another relay may take it
inline constexpr uint8_t kRefuseLast = kRefuseAddressLimit;

struct Answer {
    ByteArray<16> session_id{};
    bool accepted = false;
    uint8_t refuse_code = 0;    // 0 when accepted
    std::string refuse_reason;  // printable ASCII, at most kRendezvousMaxReason; empty when accepted
    ByteArray<32> relay_share{};  // the relay's ephemeral X25519 public key
    std::vector<Endpoint> candidates;  // at most kRendezvousMaxCandidates
    uint64_t timestamp_ms = 0;
};

struct SealedOffer {
    Bytes value;                  // kRendezvousValueSize bytes
    Bytes answer_key_material;    // HPKE exporter output, kAnswerKeyMaterialSize bytes
};

struct OpenedOffer {
    Offer offer;
    Bytes answer_key_material;
};

// Client: seals offer to the relay's inbox key. info = "pave/v1/rendezvous" || version ||
// relay_node_pub || period (u64 big endian). nullopt if the offer cannot be encoded (more than
// 8 candidates, an invalid endpoint) or the inbox key is a low-order point.
std::optional<SealedOffer> seal_offer(const Offer& offer, const ByteArray<32>& relay_inbox_pub,
                                      const Ed25519Public& relay_node_pub, uint64_t period);

// Relay: trial-decrypts value; nullopt for anything not for this inbox key, relay and period,
// or malformed. The size is checked before anything else.
std::optional<OpenedOffer> open_offer(ByteView value, const X25519Key& inbox_key, const Ed25519Public& relay_node_pub,
                                      uint64_t period);

// Relay: seals answer to the client's ephemeral share with HPKE; info = "pave/v1/rendezvous-answer" ||
// version || answer_key_material, so the answer is bound to the one offer it answers (the
// session id travels inside). Empty on bad input (candidate count, reason length or characters,
// accepted with a refusal, key material size, low-order client share).
Bytes seal_answer(const Answer& answer, const ByteArray<32>& client_share, ByteView answer_key_material);

// Client: opens an answer with its ephemeral key; nullopt if not for this offer or malformed.
// The caller compares Answer::session_id with its own.
std::optional<Answer> open_answer(ByteView value, const X25519Key& client_eph, ByteView answer_key_material);

// The hello id of an offer (relay/wire/rendezvous_frame.h): the first 8 bytes of
// HKDF-Expand(answer_key_material, "pave/v1/hello-id"). Only the client and the relay that
// opened the offer know it; it never reaches the DHT.
ByteArray<8> rendezvous_hello_id(ByteView answer_key_material);

// The timestamp to write now: unix_ms rounded down to a whole second.
inline uint64_t rendezvous_timestamp_now(uint64_t unix_ms) { return unix_ms / 1000 * 1000; }

// A timestamp within kRendezvousClockSkewMs of now_ms (either side).
bool rendezvous_timestamp_fresh(uint64_t timestamp_ms, uint64_t now_ms);

// An endpoint that may appear in a rendezvous message (family, port, unicast address).
bool rendezvous_endpoint_ok(const Endpoint& e);

// The fixed-size plaintexts (exposed for tests and fuzzing). Encoders return nullopt for
// values that break the limits above; decoders accept exactly kRendezvousPlaintextSize bytes
// of canonical encoding (zero padding, known version and kind) and never throw.
using RendezvousPlaintext = ByteArray<kRendezvousPlaintextSize>;
std::optional<RendezvousPlaintext> encode_offer_plaintext(const Offer& offer);
std::optional<RendezvousPlaintext> encode_answer_plaintext(const Answer& answer);
std::optional<Offer> decode_offer_plaintext(ByteView pt);
std::optional<Answer> decode_answer_plaintext(ByteView pt);

}  // namespace pave
