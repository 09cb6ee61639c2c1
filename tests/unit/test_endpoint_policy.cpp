#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include "relay/wire/endpoint_policy.h"

using namespace pave;

namespace {

Endpoint ep(const std::string& text) {
    auto e = Endpoint::parse(text);
    REQUIRE_MESSAGE(e.has_value(), text);
    return *e;
}

EndpointVerdict check(const std::string& text, bool allow_private = false, const std::vector<Endpoint>& own = {}) {
    return check_endpoint(ep(text), own, allow_private);
}

}  // namespace

TEST_CASE("endpoint policy: IPv4 range boundaries") {
    struct Row {
        const char* ep;
        EndpointVerdict v;
    };
    using V = EndpointVerdict;
    const Row rows[] = {
        {"0.0.0.0:51820", V::unspecified},
        {"0.0.0.1:51820", V::reserved},
        {"0.255.255.255:51820", V::reserved},
        {"1.0.0.0:51820", V::ok},
        {"9.255.255.255:51820", V::ok},
        {"10.0.0.0:51820", V::private_rfc1918},
        {"10.255.255.255:51820", V::private_rfc1918},
        {"11.0.0.0:51820", V::ok},
        {"100.63.255.255:51820", V::ok},
        {"100.64.0.0:51820", V::cgnat},
        {"100.127.255.255:51820", V::cgnat},
        {"100.128.0.0:51820", V::ok},
        {"126.255.255.255:51820", V::ok},
        {"127.0.0.0:51820", V::loopback},
        {"127.0.0.1:51820", V::loopback},
        {"127.255.255.255:51820", V::loopback},
        {"128.0.0.0:51820", V::ok},
        {"169.253.255.255:51820", V::ok},
        {"169.254.0.0:51820", V::link_local},
        {"169.254.255.255:51820", V::link_local},
        {"169.255.0.0:51820", V::ok},
        {"172.15.255.255:51820", V::ok},
        {"172.16.0.0:51820", V::private_rfc1918},
        {"172.31.255.255:51820", V::private_rfc1918},
        {"172.32.0.0:51820", V::ok},
        {"192.0.2.1:51820", V::ok},
        {"198.51.100.1:51820", V::ok},
        {"203.0.113.1:51820", V::ok},
        {"192.167.255.255:51820", V::ok},
        {"192.168.0.0:51820", V::private_rfc1918},
        {"192.168.255.255:51820", V::private_rfc1918},
        {"192.169.0.0:51820", V::ok},
        {"223.255.255.255:51820", V::ok},
        {"224.0.0.0:51820", V::multicast},
        {"239.255.255.255:51820", V::multicast},
        {"240.0.0.0:51820", V::reserved},
        {"255.255.255.254:51820", V::reserved},
        {"255.255.255.255:51820", V::broadcast},
    };
    for (const auto& r : rows) {
        INFO(r.ep);
        CHECK(check(r.ep) == r.v);
        CHECK(classify_address(ep(r.ep)) == r.v);
    }
}

TEST_CASE("endpoint policy: IPv6") {
    using V = EndpointVerdict;
    CHECK(check("[::]:51820") == V::unspecified);
    CHECK(check("[::1]:51820") == V::loopback);
    CHECK(check("[::2]:51820") == V::reserved);
    CHECK(check("[::10.0.0.1]:51820") == V::reserved);  // IPv4-compatible, deprecated
    CHECK(check("[fe80::1]:51820") == V::link_local);
    CHECK(check("[febf:ffff::1]:51820") == V::link_local);
    CHECK(check("[fec0::1]:51820") == V::private_rfc1918);
    CHECK(check("[fc00::1]:51820") == V::private_rfc1918);
    CHECK(check("[fdff:ffff::1]:51820") == V::private_rfc1918);
    CHECK(check("[fbff:ffff::1]:51820") == V::ok);
    CHECK(check("[fe00::1]:51820") == V::ok);
    CHECK(check("[ff02::1]:51820") == V::multicast);
    CHECK(check("[ff0e::1]:51820") == V::multicast);
    CHECK(check("[100::1]:51820") == V::reserved);
    CHECK(check("[100:0:0:1::1]:51820") == V::ok);
    CHECK(check("[2001:db8::1]:51820") == V::ok);
    CHECK(check("[2a00:1450:4001::1]:51820") == V::ok);
    CHECK(check("[64:ff9b:1::1]:51820") == V::reserved);
}

TEST_CASE("endpoint policy: IPv6 forms that lead to an IPv4 address") {
    using V = EndpointVerdict;
    CHECK(check("[::ffff:10.0.0.1]:51820") == V::private_rfc1918);
    CHECK(check("[::ffff:127.0.0.1]:51820") == V::loopback);
    CHECK(check("[::ffff:100.64.0.1]:51820") == V::cgnat);
    CHECK(check("[::ffff:255.255.255.255]:51820") == V::broadcast);
    CHECK(check("[::ffff:0.0.0.0]:51820") == V::unspecified);
    CHECK(check("[::ffff:192.0.2.1]:51820") == V::ok);
    CHECK(check("[::ffff:0:169.254.1.1]:51820") == V::link_local);  // IPv4-translated
    CHECK(check("[64:ff9b::192.168.1.1]:51820") == V::private_rfc1918);  // NAT64
    CHECK(check("[64:ff9b::198.51.100.1]:51820") == V::ok);
    CHECK(check("[2002:7f00:1::1]:51820") == V::loopback);  // 6to4 of 127.0.0.1
    CHECK(check("[2002:c000:201::1]:51820") == V::ok);      // 6to4 of 192.0.2.1
    // The same addresses arriving as a sockaddr (unmapped by Endpoint) get the same verdict.
    sockaddr_in6 s6{};
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(51820);
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
    std::memcpy(&s6.sin6_addr, mapped, 16);
    auto e = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&s6), sizeof s6);
    REQUIRE(e);
    CHECK(check_endpoint(*e, {}, false) == V::private_rfc1918);
}

TEST_CASE("endpoint policy: allow_private lifts only the private classes") {
    using V = EndpointVerdict;
    for (const char* t : {"127.0.0.1:51820", "10.0.0.1:51820", "172.16.0.1:51820", "192.168.1.1:51820",
                          "100.64.0.1:51820", "169.254.1.1:51820", "[::1]:51820", "[fe80::1]:51820",
                          "[fd00::1]:51820", "[::ffff:10.0.0.1]:51820"}) {
        INFO(t);
        CHECK(check(t, false) != V::ok);
        CHECK(check(t, true) == V::ok);
    }
    CHECK(check("224.0.0.1:51820", true) == V::multicast);
    CHECK(check("[ff02::1]:51820", true) == V::multicast);
    CHECK(check("0.0.0.0:51820", true) == V::unspecified);
    CHECK(check("[::]:51820", true) == V::unspecified);
    CHECK(check("255.255.255.255:51820", true) == V::broadcast);
    CHECK(check("240.0.0.1:51820", true) == V::reserved);
    CHECK(check("10.0.0.1:0", true) == V::port_zero);
    CHECK(check("192.0.2.1:0", false) == V::port_zero);
    CHECK(check_endpoint(Endpoint{}, {}, true) == V::unspecified);
}

TEST_CASE("endpoint policy: the relay's own addresses, any port, any spelling") {
    using V = EndpointVerdict;
    const std::vector<Endpoint> own = {ep("198.51.100.7:4000"), ep("[2001:db8::7]:4000"), ep("10.1.1.1:4000")};
    CHECK(check("198.51.100.7:51820", false, own) == V::own_address);
    CHECK(check("198.51.100.7:4000", false, own) == V::own_address);
    CHECK(check("[::ffff:198.51.100.7]:51820", false, own) == V::own_address);
    CHECK(check("[64:ff9b::198.51.100.7]:51820", false, own) == V::own_address);
    CHECK(check("[2001:db8::7]:51820", false, own) == V::own_address);
    CHECK(check("10.1.1.1:51820", true, own) == V::own_address);  // allow_private does not lift it
    CHECK(check("198.51.100.8:51820", false, own) == V::ok);
    CHECK(check("[2001:db8:0:1::7]:51820", false, own) == V::ok);  // another /64
    CHECK(check("198.51.100.7:51820", false, {}) == V::ok);
}

TEST_CASE("endpoint policy: the /64 of an own global IPv6 address is the relay's network") {
    using V = EndpointVerdict;
    const std::vector<Endpoint> own = {ep("[2001:db8:5:6::7]:4000"), ep("[fe80::1]:4000"), ep("[::]:4000"),
                                       ep("[::1]:4000")};
    CHECK(check("[2001:db8:5:6::8]:51820", false, own) == V::own_address);
    CHECK(check("[2001:db8:5:6:ffff:ffff:ffff:ffff]:51820", false, own) == V::own_address);
    CHECK(check("[2001:db8:5:6::8]:51820", true, own) == V::own_address);  // not lifted by allow_private
    CHECK(check("[2001:db8:5:7::7]:51820", false, own) == V::ok);
    // Own link-local, wildcard or loopback addresses make no /64 of their own.
    CHECK(check("[2001:db8::1]:51820", false, own) == V::ok);
    CHECK(check("[::2]:51820", false, own) == V::reserved);
    // IPv4 stays per address.
    CHECK(check("198.51.100.8:51820", false, {ep("198.51.100.7:1")}) == V::ok);
}

TEST_CASE("endpoint policy: candidates") {
    using V = EndpointVerdict;
    const std::vector<Endpoint> own = {ep("203.0.113.20:4500"), ep("127.0.0.1:4500"), ep("[2001:db8:5:6::7]:4500")};
    const std::vector<Endpoint> bound = {ep("127.0.0.1:4500")};
    auto cand = [&](const char* t, bool allow) { return check_candidate(ep(t), own, bound, allow); };
    CHECK(cand("198.51.100.9:4600", false) == V::ok);
    CHECK(cand("127.0.0.1:4600", false) == V::own_address);  // own address (any port) comes first
    CHECK(cand("127.0.0.2:4600", false) == V::loopback);
    CHECK(cand("10.1.0.2:4600", false) == V::private_rfc1918);
    CHECK(cand("203.0.113.20:4600", false) == V::own_address);
    CHECK(cand("[2001:db8:5:6::99]:4600", false) == V::own_address);
    CHECK(cand("224.0.0.1:4600", false) == V::multicast);
    CHECK(cand("198.51.100.9:0", false) == V::port_zero);
    // Labs and LANs: private classes and own addresses on another port (same host) allowed...
    CHECK(cand("127.0.0.1:4600", true) == V::ok);
    CHECK(cand("10.1.0.2:4600", true) == V::ok);
    CHECK(cand("203.0.113.20:4600", true) == V::ok);
    // ... but never the relay's own socket, nor the classes no flag lifts.
    CHECK(cand("127.0.0.1:4500", true) == V::own_address);
    CHECK(cand("[::ffff:127.0.0.1]:4500", true) == V::own_address);
    CHECK(cand("224.0.0.1:4600", true) == V::multicast);
    CHECK(cand("255.255.255.255:4600", true) == V::broadcast);
    CHECK(cand("0.0.0.0:4600", true) == V::unspecified);
}

TEST_CASE("endpoint policy: address groups") {
    CHECK(address_group(ep("192.0.2.1:1")) == Bytes{192, 0, 2, 1});
    CHECK(address_group(ep("[::ffff:192.0.2.1]:1")) == Bytes{192, 0, 2, 1});
    CHECK(address_group(ep("[2001:db8:1:2:3:4:5:6]:1")) == Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2});
    CHECK(address_group(Endpoint{}).empty());
}

TEST_CASE("endpoint policy: every verdict has a message") {
    for (int i = 0; i <= int(EndpointVerdict::reserved); ++i) {
        std::string s = to_string(EndpointVerdict(i));
        CHECK(!s.empty());
        CHECK(s != "?");
    }
    CHECK(std::string(to_string(EndpointVerdict::cgnat)).find("100.64") != std::string::npos);
}
