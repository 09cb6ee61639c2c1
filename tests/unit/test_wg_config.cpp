#include <doctest/doctest.h>

#include <string>

#include "node/config/wg_config.h"

using namespace pave;

namespace {

// Real key pairs (wg genkey | wg pubkey) and a preshared key (wg genpsk).
const std::string kPriv = "8J+JMOGs/OjFnert8qotOL2IIgAVOa/AQ720NGNdAEA=";
const std::string kPub = "07ifm1wzpsIWCDd+umnWqxssx8SOgSHrD5y72xxV0FM=";
const std::string kPsk = "mRcWdVWMmmPt3CEPPoJPPEY5y3EVVTDZlj6Imn4Z2/I=";

WgConfig parse_ok(const std::string& text) {
    auto r = parse_wg_config(text);
    INFO(r.error);
    REQUIRE(r.config);
    CHECK(r.error.empty());
    return *r.config;
}

std::string parse_err(const std::string& text) {
    auto r = parse_wg_config(text);
    REQUIRE_FALSE(r.config);
    REQUIRE_FALSE(r.error.empty());
    return r.error;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string minimal(const std::string& interface_extra = "", const std::string& peer_extra = "") {
    return "[Interface]\nPrivateKey = " + kPriv + "\n" + interface_extra + "\n[Peer]\nPublicKey = " + kPub +
           "\nEndpoint = 192.0.2.7:51820\n" + peer_extra;
}

}  // namespace

TEST_CASE("wg_config: minimal file") {
    auto c = parse_ok(minimal());
    CHECK(c.private_key == kPriv);
    CHECK(c.public_key == kPub);
    CHECK(c.endpoint_host == "192.0.2.7");
    CHECK(c.endpoint_port == 51820);
    CHECK_FALSE(c.endpoint_is_name);
    CHECK(c.endpoint_text() == "192.0.2.7:51820");
    CHECK(c.preshared_key.empty());
    CHECK_FALSE(c.mtu);
    CHECK_FALSE(c.full_tunnel());
}

TEST_CASE("wg_config: comments, blank lines, whitespace and key case as wg-quick accepts them") {
    auto c = parse_ok("# provider header\n\n  [interface]   # trailing comment\n"
                      "\tprivatekey\t=\t" + kPriv + "   # the device key\n"
                      "ADDRESS=10.0.0.2/32\n"
                      "   \n#[Peer] commented out\n"
                      "[PEER]\n"
                      "PublicKey =" + kPub + "\n"
                      "endPoint   =   vpn.example.net:443  \n"
                      "allowedips = 0.0.0.0/0 # everything\n");
    CHECK(c.private_key == kPriv);
    CHECK(c.addresses == std::vector<std::string>{"10.0.0.2/32"});
    CHECK(c.endpoint_host == "vpn.example.net");
    CHECK(c.endpoint_port == 443);
    CHECK(c.allowed_ips == std::vector<std::string>{"0.0.0.0/0"});
}

TEST_CASE("wg_config: CRLF line ends and a UTF-8 BOM (files saved on Windows)") {
    std::string text = "\xEF\xBB\xBF[Interface]\r\nPrivateKey = " + kPriv + "\r\nAddress = 10.0.0.2/32\r\n\r\n[Peer]\r\nPublicKey = " +
                       kPub + "\r\nEndpoint = 198.51.100.1:51820\r\nAllowedIPs = 0.0.0.0/0\r\n";
    auto c = parse_ok(text);
    CHECK(c.private_key == kPriv);
    CHECK(c.endpoint_port == 51820);
    CHECK(c.addresses == std::vector<std::string>{"10.0.0.2/32"});
}

TEST_CASE("wg_config: several Address lines, IPv4 and IPv6, comma-separated and repeated") {
    auto c = parse_ok(minimal("Address = 10.64.1.2/32,fc00:bbbb:bbbb:bb01::1:abcd/128\nAddress = 10.99.0.1 , fd00::9\n"
                              "DNS = 10.64.0.1, fc00:bbbb:bbbb:bb01::1\nDNS = corp.example\n"));
    CHECK(c.addresses == std::vector<std::string>{"10.64.1.2/32", "fc00:bbbb:bbbb:bb01::1:abcd/128", "10.99.0.1", "fd00::9"});
    CHECK(c.dns == std::vector<std::string>{"10.64.0.1", "fc00:bbbb:bbbb:bb01::1"});
    CHECK(c.dns_search == std::vector<std::string>{"corp.example"});
}

TEST_CASE("wg_config: repeated AllowedIPs accumulate and are normalised") {
    auto c = parse_ok(minimal("", "AllowedIPs = 10.0.0.0/8, 192.168.1.1\nAllowedIPs = ::0/0\nAllowedIPs =\n"));
    CHECK(c.allowed_ips == std::vector<std::string>{"10.0.0.0/8", "192.168.1.1/32", "::/0"});
    CHECK(c.full_tunnel());
}

TEST_CASE("wg_config: a single-valued key given twice is refused with both lines") {
    auto e = parse_err("[Interface]\nPrivateKey = " + kPriv + "\nMTU = 1420\nMTU = 1280\n[Peer]\nPublicKey = " + kPub +
                       "\nEndpoint = 192.0.2.7:51820\n");
    CHECK(contains(e, "line 4:"));
    CHECK(contains(e, "MTU given twice"));
    CHECK(contains(e, "line 3"));
    e = parse_err(minimal("", "Endpoint = 192.0.2.8:51820\n"));
    CHECK(contains(e, "line 7:"));
    CHECK(contains(e, "Endpoint given twice"));
}

TEST_CASE("wg_config: Endpoint forms") {
    SUBCASE("bracketed IPv6") {
        auto c = parse_ok("[Interface]\nPrivateKey=" + kPriv + "\n[Peer]\nPublicKey=" + kPub + "\nEndpoint = [2001:db8::1]:51820\n");
        CHECK(c.endpoint_host == "2001:db8::1");
        CHECK(c.endpoint_port == 51820);
        CHECK_FALSE(c.endpoint_is_name);
        CHECK(c.endpoint_text() == "[2001:db8::1]:51820");
    }
    SUBCASE("a name") {
        auto c = parse_ok("[Interface]\nPrivateKey=" + kPriv + "\n[Peer]\nPublicKey=" + kPub +
                          "\nEndpoint = nl3.wg.ivpn.net:2049\n");
        CHECK(c.endpoint_is_name);
        CHECK(c.endpoint_host == "nl3.wg.ivpn.net");
        CHECK(c.endpoint_text() == "nl3.wg.ivpn.net:2049");
    }
    auto bad = [](const std::string& ep) {
        return parse_err("[Interface]\nPrivateKey=" + kPriv + "\n[Peer]\nPublicKey=" + kPub + "\nEndpoint = " + ep + "\n");
    };
    CHECK(contains(bad("2001:db8::1:51820"), "must be in brackets"));
    CHECK(contains(bad("[2001:db8::1]"), "line 5:"));
    CHECK(contains(bad("[1.2.3.4]:51820"), "not an IPv6 address"));
    CHECK(contains(bad("192.0.2.7"), "no port"));
    CHECK(contains(bad("192.0.2.7:0"), "valid port"));
    CHECK(contains(bad("192.0.2.7:65536"), "valid port"));
    CHECK(contains(bad("192.0.2.7:51820x"), "valid port"));
    CHECK(contains(bad("300.1.1.1:51820"), "not a host name or IPv4 address"));
    CHECK(contains(bad("bad_host!:51820"), "not a host name"));
    CHECK(contains(bad("-lead.example:51820"), "not a host name"));
    CHECK(contains(bad(":51820"), "not a host name"));
}

TEST_CASE("wg_config: PresharedKey") {
    auto c = parse_ok(minimal("", "PresharedKey = " + kPsk + "\n"));
    CHECK(c.preshared_key == kPsk);
    CHECK(contains(wg_setconf_text(c, *Endpoint::parse("127.0.0.1:51821")), "PresharedKey = " + kPsk + "\n"));
}

TEST_CASE("wg_config: keys must be canonical base64 of 32 bytes") {
    CHECK(contains(parse_err("[Interface]\nPrivateKey = abc\n"), "line 2: PrivateKey is not a WireGuard key"));
    // 43 characters, no padding
    CHECK(contains(parse_err("[Interface]\nPrivateKey = " + kPriv.substr(0, 43) + "\n"), "line 2:"));
    // right length, a character outside base64
    std::string bad = kPriv;
    bad[10] = '*';
    CHECK(contains(parse_err("[Interface]\nPrivateKey = " + bad + "\n"), "invalid base64"));
    // the same 32 bytes, but with the unused low bits of the last character set: wg refuses it too
    std::string noncanon = kPub;
    noncanon[42] = char(noncanon[42] + 1);  // 'M' -> 'N'
    CHECK(contains(parse_err(minimal("", "PresharedKey = " + noncanon + "\n")), "PresharedKey is not a WireGuard key"));
    std::string pub_bad = "[Interface]\nPrivateKey=" + kPriv + "\n[Peer]\nPublicKey = " + kPub.substr(1) + "A\n";
    CHECK(contains(parse_err(pub_bad), "line 4: PublicKey"));
}

TEST_CASE("wg_config: unknown keys and misplaced keys name the line") {
    auto e = parse_err(minimal("Jc = 4\n"));
    CHECK(e == "line 3: unknown key 'Jc' in [Interface]");
    e = parse_err(minimal("", "Frobnicate = 1\n"));
    CHECK(e == "line 7: unknown key 'Frobnicate' in [Peer]");
    e = parse_err(minimal("Endpoint = 192.0.2.1:1\n"));
    CHECK(contains(e, "line 3: 'Endpoint' belongs in [Peer]"));
    e = parse_err(minimal("", "DNS = 1.1.1.1\n"));
    CHECK(contains(e, "line 7: 'DNS' belongs in [Interface]"));
    e = parse_err("PrivateKey = " + kPriv + "\n[Interface]\n");
    CHECK(contains(e, "line 1:"));
    CHECK(contains(e, "before any [Interface]"));
    e = parse_err(minimal("this is not a key\n"));
    CHECK(contains(e, "line 3: expected 'Key = value'"));
    e = parse_err("[Interface]\nPrivateKey = " + kPriv + "\n[Server]\n");
    CHECK(contains(e, "line 3: unknown section"));
    e = parse_err("[Interface\n");
    CHECK(contains(e, "line 1: malformed section"));
}

TEST_CASE("wg_config: no Endpoint is refused: nothing to hide") {
    auto e = parse_err("[Interface]\nPrivateKey = " + kPriv + "\nListenPort = 51820\n\n[Peer]\nPublicKey = " + kPub +
                       "\nAllowedIPs = 10.0.0.2/32\n");
    CHECK(contains(e, "no Endpoint"));
    CHECK(contains(e, "nothing to hide"));
    CHECK(contains(e, "line 5"));
}

TEST_CASE("wg_config: exactly one [Peer]") {
    auto e = parse_err(minimal() + "\n[Peer]\nPublicKey = " + kPsk + "\nEndpoint = 192.0.2.9:51820\n");
    CHECK(contains(e, "line 8: a second [Peer]"));
    CHECK(contains(e, "exactly one VPN server"));
    CHECK(contains(parse_err("[Interface]\nPrivateKey = " + kPriv + "\n"), "no [Peer] section"));
    CHECK(contains(parse_err("[Interface]\nPrivateKey = " + kPriv + "\n[Peer]\nEndpoint = 192.0.2.7:1\n"), "has no PublicKey"));
    CHECK(contains(parse_err("[Peer]\nPublicKey = " + kPub + "\nEndpoint = 192.0.2.7:1\n"), "no [Interface]"));
    CHECK(contains(parse_err("[Interface]\nAddress = 10.0.0.2/32\n[Peer]\nPublicKey = " + kPub + "\nEndpoint = 192.0.2.7:1\n"),
                   "has no PrivateKey"));
    CHECK(contains(parse_err(minimal() + "[Interface]\n"), "a second [Interface]"));
    CHECK(contains(parse_err(""), "no [Interface]"));
}

TEST_CASE("wg_config: scalar values are range-checked") {
    auto c = parse_ok(minimal("MTU = 1420\nTable = off\nFwMark = 0xca6c\nListenPort = 51820\nSaveConfig = TRUE\n",
                              "PersistentKeepalive = 25\n"));
    CHECK(*c.mtu == 1420);
    CHECK(c.table == "off");
    CHECK(*c.fwmark == 51820);
    CHECK(*c.listen_port == 51820);
    CHECK(c.save_config);
    CHECK(*c.persistent_keepalive == 25);
    CHECK(*parse_ok(minimal("FwMark = off\n")).fwmark == 0);
    CHECK(*parse_ok(minimal("", "PersistentKeepalive = off\n")).persistent_keepalive == 0);
    CHECK(parse_ok(minimal("Table = 1234\n")).table == "1234");
    CHECK(parse_ok(minimal("Table = main\n")).table == "main");
    CHECK(contains(parse_err(minimal("MTU = 100\n")), "line 3: MTU '100' is not an MTU"));
    CHECK(contains(parse_err(minimal("MTU = 65456\n")), "is not an MTU"));
    CHECK(contains(parse_err(minimal("MTU = 1420x\n")), "is not an MTU"));
    CHECK(contains(parse_err(minimal("MTU =\n")), "is not an MTU"));
    CHECK(contains(parse_err(minimal("ListenPort = 70000\n")), "not a port"));
    CHECK(contains(parse_err(minimal("ListenPort = -1\n")), "not a port"));
    CHECK(contains(parse_err(minimal("FwMark = 0x1ffffffff\n")), "not a firewall mark"));
    CHECK(contains(parse_err(minimal("Table = 99999999999\n")), "routing table number"));
    CHECK(contains(parse_err(minimal("Table = a b\n")), "routing table"));
    CHECK(contains(parse_err(minimal("SaveConfig = yes\n")), "not true or false"));
    CHECK(contains(parse_err(minimal("", "PersistentKeepalive = 65536\n")), "PersistentKeepalive"));
    CHECK(contains(parse_err(minimal("Address = 10.0.0.2/33\n")), "line 3: Address '10.0.0.2/33'"));
    CHECK(contains(parse_err(minimal("Address = fd00::1/129\n")), "Address"));
    CHECK(contains(parse_err(minimal("Address = vpn.example\n")), "Address"));
    CHECK(contains(parse_err(minimal("", "AllowedIPs = 0.0.0.0/0, 10.0.0.0/\n")), "line 7: AllowedIPs '10.0.0.0/'"));
    CHECK(contains(parse_err(minimal("DNS = 10.0.0.300\n")), "DNS server"));
    CHECK(contains(parse_err(minimal("DNS = fe80::zz\n")), "DNS server"));
    CHECK(contains(parse_err(minimal("DNS = bad..domain\n")), "search domain"));
}

TEST_CASE("wg_config: hook lines are kept as written, never interpreted") {
    auto c = parse_ok(minimal("PostUp = iptables -I OUTPUT ! -o %i -m mark ! --mark $(wg show %i fwmark) -j REJECT\n"
                              "PreDown = iptables -D OUTPUT ! -o %i -j REJECT\nPreUp = echo up; touch /tmp/x\n"
                              "PostUp = logger pave=up\nPostDown =\n"));
    REQUIRE(c.post_up.size() == 2);
    CHECK(c.post_up[0] == "iptables -I OUTPUT ! -o %i -m mark ! --mark $(wg show %i fwmark) -j REJECT");
    CHECK(c.post_up[1] == "logger pave=up");  // only the first '=' separates key from value
    CHECK(c.pre_down.size() == 1);
    CHECK(c.pre_up == std::vector<std::string>{"echo up; touch /tmp/x"});
    CHECK(c.post_down.empty());
    auto derived = wg_setconf_text(c, *Endpoint::parse("127.0.0.1:51821"));
    CHECK_FALSE(contains(derived, "iptables"));
    CHECK_FALSE(contains(derived, "Post"));
}

TEST_CASE("wg_config: realistic provider files") {
    SUBCASE("Mullvad-style: dual stack, ::0/0") {
        auto c = parse_ok("[Interface]\n# Device: Happy Otter\nPrivateKey = " + kPriv +
                          "\nAddress = 10.68.115.76/32,fc00:bbbb:bbbb:bb01::5:7347/128\nDNS = 10.64.0.1\n\n[Peer]\nPublicKey = " +
                          kPub + "\nAllowedIPs = 0.0.0.0/0,::0/0\nEndpoint = 185.213.154.68:51820\n");
        CHECK(c.addresses.size() == 2);
        CHECK(c.dns == std::vector<std::string>{"10.64.0.1"});
        CHECK(c.allowed_ips == std::vector<std::string>{"0.0.0.0/0", "::/0"});
        CHECK(c.full_tunnel());
        CHECK(c.endpoint_text() == "185.213.154.68:51820");
    }
    SUBCASE("Proton-style: settings in comments, '#' inside a comment") {
        auto c = parse_ok("[Interface]\n# Key for laptop\n# Bouncing = 3\n# NetShield = 1\n# Moderate NAT = off\n"
                          "# NAT-PMP (Port Forwarding) = off\n# VPN Accelerator = on\nPrivateKey = " + kPriv +
                          "\nAddress = 10.2.0.2/32\nDNS = 10.2.0.1\n\n[Peer]\n# CH#12\nPublicKey = " + kPub +
                          "\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 185.159.157.13:51820\n");
        CHECK(c.addresses == std::vector<std::string>{"10.2.0.2/32"});
        CHECK(c.full_tunnel());
        CHECK_FALSE(c.persistent_keepalive);
    }
    SUBCASE("IVPN-style: a name in Endpoint, keepalive") {
        auto c = parse_ok("[Interface]\nPrivateKey = " + kPriv + "\nAddress = 172.27.123.45/32\nDNS = 172.16.0.1\n\n[Peer]\nPublicKey = " +
                          kPub + "\nEndpoint = nl3.wg.ivpn.net:2049\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 25\n");
        CHECK(c.endpoint_is_name);
        CHECK(*c.persistent_keepalive == 25);
    }
    SUBCASE("AirVPN-style: PresharedKey, IPv6 DNS, MTU") {
        auto c = parse_ok("[Interface]\nAddress = 10.167.42.7/32, fd7d:76ee:e68f:a993:9a1d:cd5:dc1f:a1b8/128\nPrivateKey = " + kPriv +
                          "\nMTU = 1320\nDNS = 10.128.0.1, fd7d:76ee:e68f:a993::1\n\n[Peer]\nPublicKey = " + kPub +
                          "\nPresharedKey = " + kPsk +
                          "\nEndpoint = europe3.vpn.airdns.org:1637\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 15\n");
        CHECK(*c.mtu == 1320);
        CHECK(c.dns.size() == 2);
        CHECK(c.preshared_key == kPsk);
    }
}

TEST_CASE("wg_config: the derived setconf file points at PAVE and keeps only wg's keys") {
    auto c = parse_ok("[Interface]\nPrivateKey = " + kPriv +
                      "\nAddress = 10.2.0.2/32, fd00::2/128\nDNS = 10.2.0.1\nMTU = 1380\nTable = off\nFwMark = 51820\n"
                      "ListenPort = 40000\nSaveConfig = true\nPostUp = echo hi\n\n[Peer]\nPublicKey = " + kPub +
                      "\nPresharedKey = " + kPsk + "\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = vpn.example.net:51820\n"
                      "PersistentKeepalive = 25\n");
    auto text = wg_setconf_text(c, *Endpoint::parse("127.0.0.1:51821"));
    for (const char* k : {"Address", "DNS", "MTU", "Table", "SaveConfig", "PostUp", "PreUp"}) {
        INFO(k);
        CHECK_FALSE(contains(text, std::string("\n") + k + " "));
    }
    CHECK(contains(text, "Endpoint = 127.0.0.1:51821\n"));
    CHECK_FALSE(contains(text, "Endpoint = vpn.example.net"));
    // The derived file parses back to the same keys, with PAVE's port as the endpoint.
    auto back = parse_ok(text);
    CHECK(back.private_key == kPriv);
    CHECK(back.public_key == kPub);
    CHECK(back.preshared_key == kPsk);
    CHECK(back.allowed_ips == c.allowed_ips);
    CHECK(back.endpoint_text() == "127.0.0.1:51821");
    CHECK(*back.fwmark == 51820);
    CHECK(*back.listen_port == 40000);
    CHECK(*back.persistent_keepalive == 25);
    CHECK(back.addresses.empty());
    CHECK_FALSE(back.mtu);
    // An IPv6 local port is bracketed.
    CHECK(contains(wg_setconf_text(c, *Endpoint::parse("[::1]:51821")), "Endpoint = [::1]:51821\n"));
}

TEST_CASE("wg_config: interface name from the file name, as wg-quick derives it") {
    CHECK(*wg_interface_name("/etc/wireguard/wg0.conf") == "wg0");
    CHECK(*wg_interface_name("proton-ch12.conf") == "proton-ch12");
    CHECK(*wg_interface_name("./a/b/mullvad_se+1.conf") == "mullvad_se+1");
    // "." and ".." are no interface names (the runtime directory would be its parent).
    CHECK_FALSE(wg_interface_name("/x/...conf"));
    CHECK_FALSE(wg_interface_name("/x/..conf"));
    CHECK_FALSE(wg_interface_name_ok("."));
    CHECK_FALSE(wg_interface_name_ok(".."));
    CHECK(wg_interface_name_ok("..."));
    CHECK_FALSE(wg_interface_name_ok("a/b"));
    CHECK_FALSE(wg_interface_name_ok("0123456789abcdef"));
    CHECK_FALSE(wg_interface_name("/etc/wireguard/this-name-is-too-long.conf"));
    CHECK_FALSE(wg_interface_name("wg0"));
    CHECK_FALSE(wg_interface_name("/etc/wireguard/.conf"));
    CHECK_FALSE(wg_interface_name("my vpn.conf"));
}

TEST_CASE("wg_config: bounded input") {
    std::string big(kWgConfigMaxBytes + 1, '#');
    CHECK(contains(parse_err(big), "larger than"));
    CHECK(contains(parse_err(std::string("[Interface]\nPrivateKey = ") + kPriv + std::string("\0\n", 2)), "NUL"));
    std::string many = "[Interface]\nPrivateKey = " + kPriv + "\n";
    for (size_t i = 0; i <= kWgConfigMaxListEntries; ++i) many += "Address = 10.0.0.1\n";
    CHECK(contains(parse_err(many), "too many Address entries"));
}
