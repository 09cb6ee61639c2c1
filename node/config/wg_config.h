// A wg-quick configuration file as VPN providers ship it, parsed without I/O, and the
// configuration PAVE derives from it for WireGuard (`wg setconf` format).
//
// Accepted as wg-quick accepts it: `#` comments anywhere on a line, blank lines, whitespace
// around keys and values, section and key names in any case, CRLF line ends and a UTF-8 BOM.
// List keys (Address, DNS, AllowedIPs) may be comma-separated and repeated; a single-valued
// key given twice in a section is refused (wg would silently keep the last one).
//
// [Interface]: PrivateKey, Address, DNS, MTU, Table, FwMark, ListenPort, SaveConfig,
//              PreUp, PostUp, PreDown, PostDown (hook lines are kept; the parser never runs them)
// [Peer]:      PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive
//
// PAVE relays to exactly one VPN server, so a file must have exactly one [Peer] with an
// Endpoint. Any other key, a key outside its section, or a malformed value is refused with
// the line number. Keys must be canonical base64 of 32 bytes, as `wg` requires.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/wire/endpoint.h"

namespace pave {

// Larger files are refused before they are read line by line.
inline constexpr size_t kWgConfigMaxBytes = 256 * 1024;
// At most this many entries in each list (Address, DNS, AllowedIPs, each hook).
inline constexpr size_t kWgConfigMaxListEntries = 1024;
inline constexpr uint32_t kWgMinMtu = 576, kWgMaxMtu = 9000;

struct WgConfig {
    // [Interface]
    std::string private_key;             // canonical base64 (secret: never log it)
    std::vector<std::string> addresses;  // CIDR as written, e.g. "10.2.0.2/32", "fd00::2/128", "10.0.0.2"
    std::vector<std::string> dns;        // resolver addresses (IPv4 or IPv6)
    std::vector<std::string> dns_search; // DNS entries that are names: search domains, as wg-quick reads them
    std::optional<uint32_t> mtu;
    std::string table;                   // as written: "auto", "off", a number or a table name; "" if absent
    std::optional<uint32_t> fwmark;      // 0 or absent: none
    std::optional<uint16_t> listen_port;
    bool save_config = false;
    std::vector<std::string> pre_up, post_up, pre_down, post_down;

    // [Peer]
    std::string public_key;              // canonical base64
    std::string preshared_key;           // canonical base64, or "" if absent
    std::vector<std::string> allowed_ips;  // CIDR, normalised to always carry a prefix
    std::string endpoint_host;           // a name, an IPv4 address or an IPv6 address (no brackets)
    uint16_t endpoint_port = 0;
    bool endpoint_is_name = false;       // true: needs resolving before use
    std::optional<uint16_t> persistent_keepalive;  // seconds; 0 or absent: off

    // "host:port", or "[v6]:port": what `pave connect --vpn` and resolve_host_port() accept.
    std::string endpoint_text() const;
    // True if AllowedIPs routes every IPv4 (0.0.0.0/0) or every IPv6 (::/0) address.
    bool full_tunnel() const;
};

struct WgConfigResult {
    std::optional<WgConfig> config;
    std::string error;  // one line, "line N: ..." where a line is at fault; set when !config
};

WgConfigResult parse_wg_config(std::string_view text);

// The configuration for `wg setconf`: the [Interface] private key (and ListenPort, FwMark),
// and the one [Peer] with its Endpoint replaced by `local` (PAVE's local port). wg-quick-only
// keys (Address, DNS, MTU, Table, SaveConfig, hooks) are left out. Contains the private key.
std::string wg_setconf_text(const WgConfig& c, const Endpoint& local);

// The interface name wg-quick gives a config path: "/etc/wireguard/wg0.conf" -> "wg0".
// nullopt unless the file name is 1-15 of [a-zA-Z0-9_=+.-] followed by ".conf".
std::optional<std::string> wg_interface_name(std::string_view path);
// 1-15 of [a-zA-Z0-9_=+.-], and not "." or "..": a name wg-quick and the kernel accept.
bool wg_interface_name_ok(std::string_view name);

}  // namespace pave
