// Feeds arbitrary text to the wg-quick config parser. Anything it accepts must derive a
// `wg setconf` file that parses back to the same keys and peer, pointed at PAVE's port;
// anything it refuses must say why. The wg-quick file `pave wg up` derives from it must parse
// back with the same keys, addresses and routes, pointed at PAVE's port, with an MTU and a mark.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/config/wg_config.h"
#include "node/config/wg_quick_file.h"

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
    pave::WgQuickDerivation d{local, "/etc/wireguard/wg0.conf", size % 2 == 0, size % 3 == 0};
    auto q = pave::parse_wg_config(pave::wg_quick_file_text(c, d));
    if (!q.config) std::abort();
    const auto& qc = *q.config;
    if (qc.private_key != c.private_key || qc.public_key != c.public_key || qc.preshared_key != c.preshared_key ||
        qc.allowed_ips != c.allowed_ips || qc.addresses != c.addresses || qc.endpoint_text() != "127.0.0.1:51821" ||
        qc.mtu != pave::wg_quick_mtu(c) || !qc.fwmark || *qc.fwmark != pave::wg_quick_fwmark(c) || qc.table != c.table ||
        qc.save_config || (!d.run_hooks && !qc.post_up.empty()) || (!d.keep_dns && !qc.dns.empty()) ||
        (d.run_hooks && qc.post_up != c.post_up))
        std::abort();
    (void)pave::wg_interface_name(text.substr(0, 64));
    return 0;
}
