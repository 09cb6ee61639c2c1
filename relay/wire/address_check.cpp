#include "relay/wire/address_check.h"

#include <nettle/hmac.h>

#include <algorithm>

#include "crypto/byte_reader.h"
#include "crypto/byte_writer.h"
#include "crypto/random.h"

namespace pave {

namespace {

constexpr size_t kPadding = kAddressCheckSize - 2 - 2 * kCookieSize;
static_assert(2 + 2 * kCookieSize <= kAddressCheckSize);

bool all_zero(ByteView b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

}  // namespace

std::optional<AddressCheck> parse_address_check(ByteView wire) {
    if (wire.size() != kAddressCheckSize) return std::nullopt;
    ByteReader r(wire);
    uint8_t type = 0;
    AddressCheck m;
    if (!r.expect_u8(kAddressCheckByte) || !r.u8(type) || !r.array(m.cookie) || !r.array(m.echo) ||
        !r.zeros_to_end())
        return std::nullopt;
    if (type < uint8_t(AddressCheckType::challenge) || type > uint8_t(AddressCheckType::confirm)) return std::nullopt;
    m.type = AddressCheckType(type);
    if (m.type == AddressCheckType::challenge && !all_zero(m.echo)) return std::nullopt;
    if (m.type == AddressCheckType::confirm && !all_zero(m.cookie)) return std::nullopt;
    return m;
}

ByteArray<kAddressCheckSize> encode_address_check(const AddressCheck& m) {
    static constexpr ByteArray<kCookieSize> kNone{};
    ByteArray<kAddressCheckSize> out{};
    ByteWriter w(out);
    w.u8(kAddressCheckByte) && w.u8(uint8_t(m.type)) &&
        w.put(m.type != AddressCheckType::confirm ? m.cookie : kNone) &&
        w.put(m.type != AddressCheckType::challenge ? m.echo : kNone) && w.zeros(kPadding);
    return out;
}

CookieJar::CookieJar() { random_bytes(secret_); }
CookieJar::CookieJar(const ByteArray<32>& secret) : secret_(secret) {}
CookieJar::~CookieJar() { secure_zero(secret_.data(), secret_.size()); }

ByteArray<kCookieSize> CookieJar::make_for_slot(const Endpoint& addr, uint64_t slot) const {
    // slot (8, big-endian) || address (16: IPv4 as IPv4-mapped) || port (2, big-endian)
    ByteArray<26> msg{};
    ByteWriter w(msg);
    w.u64be(slot) && w.put(addr.mapped_key());
    hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, secret_.size(), secret_.data());
    hmac_sha256_update(&ctx, msg.size(), msg.data());
    ByteArray<kCookieSize> out{};
    hmac_sha256_digest(&ctx, out.size(), out.data());
    secure_zero(&ctx, sizeof ctx);
    return out;
}

ByteArray<kCookieSize> CookieJar::make(const Endpoint& addr, uint64_t now_s) const {
    return make_for_slot(addr, now_s / kSlotSeconds);
}

bool CookieJar::verify(const Endpoint& addr, const ByteArray<kCookieSize>& cookie, uint64_t now_s) const {
    const uint64_t slot = now_s / kSlotSeconds;
    if (equal_ct(cookie, make_for_slot(addr, slot))) return true;
    return slot > 0 && equal_ct(cookie, make_for_slot(addr, slot - 1));
}

}  // namespace pave
