// Feeds arbitrary text to the wg-quick config parser. Anything it accepts must derive a
// `wg setconf` file that parses back to the same keys and peer, pointed at PAVE's port;
// anything it refuses must say why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/config/wg_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto res = pave::parse_wg_config(text);
    if (!res.config) {
        if (res.error.empty()) std::abort();
        return 0;
    }
    const auto& c = *res.config;
    if (c.private_key.size() != 44 || c.public_key.size() != 44 || c.endpoint_port == 0 || c.endpoint_host.empty())
        std::abort();
    (void)c.full_tunnel();
    static const auto local = *pave::Endpoint::parse("127.0.0.1:51821");
    auto back = pave::parse_wg_config(pave::wg_setconf_text(c, local));
    if (!back.config) std::abort();
    const auto& b = *back.config;
    if (b.private_key != c.private_key || b.public_key != c.public_key || b.preshared_key != c.preshared_key ||
        b.allowed_ips != c.allowed_ips || b.endpoint_text() != "127.0.0.1:51821" || !b.addresses.empty() ||
        !b.dns.empty() || b.mtu || !b.post_up.empty())
        std::abort();
    (void)pave::wg_interface_name(text.substr(0, 64));
    return 0;
}
