#include "node/config/wg_quick_file.h"

#include <vector>

namespace pave {

namespace {

std::string joined(const std::vector<std::string>& items) {
    std::string o;
    for (size_t i = 0; i < items.size(); ++i) o += (i ? ", " : "") + items[i];
    return o;
}

void list_line(std::string& o, const char* key, const std::vector<std::string>& items) {
    if (!items.empty()) o += std::string(key) + " = " + joined(items) + "\n";
}

void hook_lines(std::string& o, const char* key, const std::vector<std::string>& hooks) {
    for (const auto& h : hooks) o += std::string(key) + " = " + h + "\n";
}

}  // namespace

uint32_t wg_quick_fwmark(const WgConfig& c) { return c.fwmark && *c.fwmark ? *c.fwmark : kWgQuickDefaultFwmark; }

uint32_t wg_quick_mtu(const WgConfig& c) { return c.mtu ? *c.mtu : kWgDefaultMtu; }

std::string wg_quick_file_text(const WgConfig& c, const WgQuickDerivation& d) {
    std::string o;
    o += "# Derived by PAVE from " + d.source_path + " (left unchanged). The peer's Endpoint is\n";
    o += "# PAVE's local port, which relays to " + c.endpoint_text() + " through a random peer.\n";
    o += "[Interface]\nPrivateKey = " + c.private_key + "\n";
    list_line(o, "Address", c.addresses);
    if (d.keep_dns) {
        std::vector<std::string> dns = c.dns;
        dns.insert(dns.end(), c.dns_search.begin(), c.dns_search.end());
        list_line(o, "DNS", dns);
    }
    o += "MTU = " + std::to_string(wg_quick_mtu(c)) + "\n";
    if (!c.table.empty()) o += "Table = " + c.table + "\n";
    o += "FwMark = " + std::to_string(wg_quick_fwmark(c)) + "\n";
    if (c.listen_port) o += "ListenPort = " + std::to_string(*c.listen_port) + "\n";
    if (d.run_hooks) {
        hook_lines(o, "PreUp", c.pre_up);
        hook_lines(o, "PostUp", c.post_up);
        hook_lines(o, "PreDown", c.pre_down);
        hook_lines(o, "PostDown", c.post_down);
    }
    o += "\n[Peer]\nPublicKey = " + c.public_key + "\n";
    if (!c.preshared_key.empty()) o += "PresharedKey = " + c.preshared_key + "\n";
    list_line(o, "AllowedIPs", c.allowed_ips);
    o += "Endpoint = " + d.local.to_string() + "\n";
    if (c.persistent_keepalive && *c.persistent_keepalive)
        o += "PersistentKeepalive = " + std::to_string(*c.persistent_keepalive) + "\n";
    return o;
}

}  // namespace pave
