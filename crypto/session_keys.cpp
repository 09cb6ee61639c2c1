#include "crypto/session_keys.h"

#include <cstring>
#include <string_view>

#include "crypto/hkdf.h"

namespace pave {

namespace {

ByteView label(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

}  // namespace

std::optional<SessionKeys> derive_session_keys(ByteView hpke_export, const SecretArray<32>& ee_shared) {
    if (hpke_export.size() != kSessionExportSize) return std::nullopt;
    uint8_t acc = 0;
    for (uint8_t b : ee_shared.b) acc |= b;
    if (acc == 0) return std::nullopt;

    SecretArray<kSessionExportSize + 32> ikm;
    std::memcpy(ikm.data(), hpke_export.data(), kSessionExportSize);
    std::memcpy(ikm.data() + kSessionExportSize, ee_shared.data(), 32);
    auto prk = hkdf::extract(label("pave/v1/session"), ikm.b);

    SessionKeys keys;
    if (!hkdf::expand_into(prk.b, label("c2r"), keys.client_to_relay.b) ||
        !hkdf::expand_into(prk.b, label("r2c"), keys.relay_to_client.b) ||
        !hkdf::expand_into(prk.b, label("conn-id"), keys.conn_id)) {
        return std::nullopt;
    }
    return keys;
}

}  // namespace pave
