#include "relay/address_check.h"

#include <nettle/hmac.h>

#include <algorithm>

#include "crypto/random.h"

namespace pave {

namespace {

constexpr size_t kTypeAt = 1;
constexpr size_t kCookieAt = 2;
constexpr size_t kEchoAt = kCookieAt + kCookieSize;
constexpr size_t kPaddingAt = kEchoAt + kCookieSize;
static_assert(kPaddingAt <= kAddressCheckSize);

bool all_zero(ByteView b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

}  // namespace

std::optional<AddressCheck> parse_address_check(ByteView wire) {
    if (wire.size() != kAddressCheckSize || wire[0] != kAddressCheckByte) return std::nullopt;
    const uint8_t type = wire[kTypeAt];
    if (type < uint8_t(AddressCheckType::challenge) || type > uint8_t(AddressCheckType::confirm)) return std::nullopt;
    if (!all_zero(wire.subspan(kPaddingAt))) return std::nullopt;
    AddressCheck m;
    m.type = AddressCheckType(type);
    std::copy_n(wire.begin() + kCookieAt, kCookieSize, m.cookie.begin());
    std::copy_n(wire.begin() + kEchoAt, kCookieSize, m.echo.begin());
    if (m.type == AddressCheckType::challenge && !all_zero(m.echo)) return std::nullopt;
    if (m.type == AddressCheckType::confirm && !all_zero(m.cookie)) return std::nullopt;
    return m;
}

ByteArray<kAddressCheckSize> encode_address_check(const AddressCheck& m) {
    ByteArray<kAddressCheckSize> out{};
    out[0] = kAddressCheckByte;
    out[kTypeAt] = uint8_t(m.type);
    if (m.type != AddressCheckType::confirm) std::copy(m.cookie.begin(), m.cookie.end(), out.begin() + kCookieAt);
    if (m.type != AddressCheckType::challenge) std::copy(m.echo.begin(), m.echo.end(), out.begin() + kEchoAt);
    return out;
}

CookieJar::CookieJar() { random_bytes(secret_); }
CookieJar::CookieJar(const ByteArray<32>& secret) : secret_(secret) {}
CookieJar::~CookieJar() { secure_zero(secret_.data(), secret_.size()); }

ByteArray<kCookieSize> CookieJar::make_for_slot(const Endpoint& addr, uint64_t slot) const {
    // slot (8, big-endian) || address (16: IPv4 as IPv4-mapped) || port (2, big-endian)
    ByteArray<26> msg{};
    for (int i = 0; i < 8; ++i) msg[size_t(i)] = uint8_t(slot >> (56 - 8 * i));
    Bytes ip = addr.ip_bytes();
    if (ip.size() == 4) {
        msg[8 + 10] = msg[8 + 11] = 0xff;
        std::copy(ip.begin(), ip.end(), msg.begin() + 8 + 12);
    } else if (ip.size() == 16) {
        std::copy(ip.begin(), ip.end(), msg.begin() + 8);
    }
    msg[24] = uint8_t(addr.port() >> 8);
    msg[25] = uint8_t(addr.port());
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
