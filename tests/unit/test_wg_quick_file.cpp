#include <doctest/doctest.h>

#include <string>

#include "node/config/wg_quick_file.h"

using namespace pave;

namespace {

const std::string kPriv = "8J+JMOGs/OjFnert8qotOL2IIgAVOa/AQ720NGNdAEA=";
const std::string kPub = "07ifm1wzpsIWCDd+umnWqxssx8SOgSHrD5y72xxV0FM=";
const std::string kPsk = "mRcWdVWMmmPt3CEPPoJPPEY5y3EVVTDZlj6Imn4Z2/I=";

WgConfig provider(const std::string& iface_extra = "") {
    auto r = parse_wg_config("[Interface]\nPrivateKey = " + kPriv +
                             "\nAddress = 10.64.1.2/32, fc00:bbbb::2/128\nAddress = 10.64.9.9/32\n"
                             "DNS = 10.64.0.1, corp.example\n" + iface_extra +
                             "PostUp = iptables -I OUTPUT -j ACCEPT\nPreDown = echo bye\nSaveConfig = true\n"
                             "[Peer]\nPublicKey = " + kPub + "\nPresharedKey = " + kPsk +
                             "\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = vpn.example.net:51820\n"
                             "PersistentKeepalive = 25\n");
    INFO(r.error);
    REQUIRE(r.config);
    return *r.config;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

WgQuickDerivation local(bool dns = false, bool hooks = false) {
    return {*Endpoint::parse("127.0.0.1:40001"), "/etc/wireguard/wg0.conf", dns, hooks};
}

}  // namespace

TEST_CASE("wg_quick_file: the endpoint is PAVE's port; MTU 1420 and FwMark 51820 by default; keys kept") {
    WgConfig c = provider();
    std::string t = wg_quick_file_text(c, local());
    CHECK(has(t, "\nEndpoint = 127.0.0.1:40001\n"));
    CHECK_FALSE(has(t, "Endpoint = vpn.example.net"));
    CHECK(has(t, "MTU = 1420\n"));
    CHECK(has(t, "FwMark = 51820\n"));
    CHECK(has(t, "PrivateKey = " + kPriv + "\n"));
    CHECK(has(t, "PublicKey = " + kPub + "\n"));
    CHECK(has(t, "PresharedKey = " + kPsk + "\n"));
    CHECK(has(t, "Address = 10.64.1.2/32, fc00:bbbb::2/128, 10.64.9.9/32\n"));
    CHECK(has(t, "AllowedIPs = 0.0.0.0/0, ::/0\n"));
    CHECK(has(t, "PersistentKeepalive = 25\n"));
    CHECK_FALSE(has(t, "SaveConfig"));
    CHECK(wg_quick_mtu(c) == 1420);
    CHECK(wg_quick_fwmark(c) == 51820);
    // What the derived file says is read back the same by the parser.
    auto back = parse_wg_config(t);
    INFO(back.error);
    REQUIRE(back.config);
    CHECK(back.config->endpoint_text() == "127.0.0.1:40001");
    CHECK(back.config->addresses == c.addresses);
    CHECK(back.config->allowed_ips == c.allowed_ips);
    CHECK(back.config->preshared_key == kPsk);
}

TEST_CASE("wg_quick_file: the file's MTU, FwMark and Table win") {
    WgConfig c = provider("MTU = 1380\nFwMark = 0x1234\nTable = 1234\n");
    std::string t = wg_quick_file_text(c, local());
    CHECK(has(t, "MTU = 1380\n"));
    CHECK(has(t, "FwMark = 4660\n"));
    CHECK(has(t, "Table = 1234\n"));
    CHECK(wg_quick_fwmark(c) == 0x1234);
}

TEST_CASE("wg_quick_file: DNS only when wg-quick can apply it; hooks only with --run-hooks") {
    WgConfig c = provider();
    std::string plain = wg_quick_file_text(c, local(false, false));
    CHECK_FALSE(has(plain, "DNS"));
    CHECK_FALSE(has(plain, "PostUp"));
    CHECK_FALSE(has(plain, "PreDown"));
    std::string full = wg_quick_file_text(c, local(true, true));
    CHECK(has(full, "DNS = 10.64.0.1, corp.example\n"));
    CHECK(has(full, "PostUp = iptables -I OUTPUT -j ACCEPT\n"));
    CHECK(has(full, "PreDown = echo bye\n"));
}
