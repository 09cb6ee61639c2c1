// The text of the record `pave wg up` / `attach` keeps of what it made (node/wg_state.h), read
// back by `pave wg down`, `detach`, a second `up` and `pave status`: one "key value" line per
// field, without I/O. The file lives in a root-only directory, but is still read as untrusted:
// bounded, every field checked, unknown keys ignored (a newer PAVE may add some).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pave {

inline constexpr size_t kWgRecordMaxBytes = 16 * 1024;

struct WgRecord {
    std::string mode;               // "up" or "attach"
    int64_t pid = 0;                // the process that runs PAVE for the interface (1 .. 2^22)
    std::string iface;              // 1-15 characters, no '/'
    std::string config;             // up: the user's file, as given
    std::string derived;            // up: the derived wg-quick file
    std::string local;              // PAVE's local port, "127.0.0.1:PORT"
    std::string vpn;                // the VPN endpoint PAVE relays to (numeric)
    std::string peer;               // attach: the peer's public key
    std::string original_endpoint;  // attach: the endpoint to restore
    bool interface_up = false;      // up: wg-quick up succeeded
    uint32_t fwmark = 0;            // up: the interface's mark (wg-quick's routing table, full tunnel)
    bool policy_routing = false;    // up: wg-quick added its full-tunnel rules (Table auto, a /0 route)
};

// "" and the text, or an error if a value cannot be written (a line break, or too long).
std::string wg_record_text(const WgRecord& r, std::string& error);
// nullopt and `error` if the text is not a complete record.
std::optional<WgRecord> parse_wg_record(std::string_view text, std::string& error);

}  // namespace pave
