// Address checks: the round trip that proves a peer receives at the address it sends from,
// before a node sends it more than three times what it sent (RFC 9000 §8 applied to the
// whole shared port, DHT included; see relay/amplification_guard.h).
//
// Wire layout (fixed size, unauthenticated):
//   0   1 byte   kAddressCheckByte
//   1   1 byte   type: 1 challenge, 2 response, 3 confirm
//   2   16 bytes cookie: the sender's cookie for the receiver's address (zero in a confirm)
//   18  16 bytes echo:   the receiver's cookie, echoed back (zero in a challenge)
//   34  14 bytes zero padding
// A -> B challenge(cA); B -> A response(cB, echo cA): A has proof that B receives at B;
// A -> B confirm(echo cB): B has the same proof of A. Every message is the same size, and each
// answers exactly one message, so the exchange never amplifies.
//
// A cookie is HMAC-SHA256(secret, slot || address || port) truncated to 16 bytes, with a random
// per-process secret and 30-second slots (the current and previous slot are accepted): the
// node keeps no state per challenge, and a cookie for one address is useless for another.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"

namespace pave {

inline constexpr uint8_t kAddressCheckByte = 0x51;
inline constexpr size_t kAddressCheckSize = 48;
inline constexpr size_t kCookieSize = 16;

enum class AddressCheckType : uint8_t { challenge = 1, response = 2, confirm = 3 };

struct AddressCheck {
    AddressCheckType type = AddressCheckType::challenge;
    ByteArray<kCookieSize> cookie{};
    ByteArray<kCookieSize> echo{};
    bool operator==(const AddressCheck&) const = default;
};

// Exactly kAddressCheckSize bytes, known type, zero padding, and the zero field of its type
// (a challenge echoes nothing, a confirm carries no cookie); never reads outside `wire`.
std::optional<AddressCheck> parse_address_check(ByteView wire);
ByteArray<kAddressCheckSize> encode_address_check(const AddressCheck& m);

class CookieJar {
public:
    static constexpr uint64_t kSlotSeconds = 30;

    CookieJar();                                   // random secret
    explicit CookieJar(const ByteArray<32>& secret);  // for tests
    ~CookieJar();

    ByteArray<kCookieSize> make(const Endpoint& addr, uint64_t now_s) const;
    // True for a cookie made for exactly `addr` in the current or the previous slot.
    bool verify(const Endpoint& addr, const ByteArray<kCookieSize>& cookie, uint64_t now_s) const;

private:
    ByteArray<kCookieSize> make_for_slot(const Endpoint& addr, uint64_t slot) const;
    ByteArray<32> secret_;
};

}  // namespace pave
