// Per-session keys of a client-relay session, from the rendezvous HPKE export and the
// ephemeral-ephemeral X25519 secret.
#pragma once
#include <optional>

#include "crypto/bytes.h"

namespace pave {

inline constexpr size_t kSessionExportSize = 32;

struct SessionKeys {
    SecretArray<32> client_to_relay;
    SecretArray<32> relay_to_client;
    ByteArray<8> conn_id{};
};

// PRK = HKDF-Extract("pave/v1/session", hpke_export || ee_shared); each output is
// HKDF-Expand(PRK, label) with its own label ("c2r", "r2c", "conn-id").
// nullopt if hpke_export is not 32 bytes or ee_shared is all zero.
std::optional<SessionKeys> derive_session_keys(ByteView hpke_export, const SecretArray<32>& ee_shared);

}  // namespace pave
