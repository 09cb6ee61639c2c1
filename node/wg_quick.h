// The steps `pave wg up` takes with the real WireGuard tools: write the derived wg-quick file
// (node/config/wg_quick_file.h) privately, and run `wg-quick up` / `wg-quick down` on it,
// with wireguard-go as the userspace implementation where there is no kernel module (what
// wg-quick falls back to; a WG_QUICK_USERSPACE_IMPLEMENTATION already set is kept).
// Also the `wg` queries and changes of `pave wg attach`.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace pave {

// Writes `text` to `path` with mode 0600 (replacing it). "" or a one-line error.
std::string write_private_file(const std::string& path, const std::string& text);

// Whether wg-quick can apply a DNS line here (it does so through resolvconf).
bool wg_quick_can_apply_dns();

// `wg-quick up|down FILE`; its "[#] ..." lines go to stderr. "" or a one-line error.
std::string wg_quick(const std::string& verb, const std::string& file);

// What wg-quick's full-tunnel setup leaves when the interface disappears without `wg-quick
// down` (wireguard-go killed): the rules `not fwmark T table T` and `table main
// suppress_prefixlength 0` (IPv4 and IPv6), the nftables tables wg-quick-IFACE and
// wireguard-go's socket. Removes them as wg-quick's own down does. "" or a one-line error.
std::string remove_wg_quick_routing(const std::string& iface, uint32_t table);

struct WgPeerEndpoint {
    std::string public_key;
    std::string endpoint;  // "(none)" when WireGuard has none
};

// `wg show IFACE endpoints`. nullopt and `error` set if wg failed (no such interface, ...).
std::optional<std::vector<WgPeerEndpoint>> wg_show_endpoints(const std::string& iface, std::string& error);
// `wg show IFACE fwmark`: the mark, 0 for "off"; nullopt on error.
std::optional<uint32_t> wg_show_fwmark(const std::string& iface, std::string& error);
// `wg set IFACE peer KEY endpoint ENDPOINT`. "" or a one-line error.
std::string wg_set_endpoint(const std::string& iface, const std::string& key, const std::string& endpoint);

}  // namespace pave
