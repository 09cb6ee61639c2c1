#include <doctest/doctest.h>

#include "node/config/host_port.h"

using namespace pave;

namespace {
std::string err_of(const char* text, uint16_t def = 0) {
    std::string e;
    auto hp = parse_host_port(text, def, e);
    CHECK_FALSE(hp);
    CHECK_FALSE(e.empty());
    return e;
}
}  // namespace

TEST_CASE("host_port: accepted forms") {
    std::string e;
    auto a = parse_host_port("vpn.example.net:51820", 0, e);
    REQUIRE(a);
    CHECK(a->host == "vpn.example.net");
    CHECK(a->port == 51820);
    CHECK(a->is_name);
    auto b = parse_host_port("192.0.2.1:1", 0, e);
    REQUIRE(b);
    CHECK_FALSE(b->is_name);
    CHECK(b->text() == "192.0.2.1:1");
    auto c = parse_host_port("[2001:db8::1]:65535", 0, e);
    REQUIRE(c);
    CHECK(c->host == "2001:db8::1");
    CHECK(c->text() == "[2001:db8::1]:65535");
    // default port
    auto d = parse_host_port("bootstrap.jami.net", 4222, e);
    REQUIRE(d);
    CHECK(d->text() == "bootstrap.jami.net:4222");
    CHECK(parse_host_port("[::1]", 4222, e)->text() == "[::1]:4222");
    CHECK(parse_host_port("10.0.0.1", 4222, e)->text() == "10.0.0.1:4222");
}

TEST_CASE("host_port: refused forms say why") {
    CHECK(err_of("vpn.example.net") == "no port (expected HOST:PORT)");
    CHECK(err_of("vpn.example.net:0") == "no valid port (1 to 65535)");
    CHECK(err_of("vpn.example.net:65536") == "no valid port (1 to 65535)");
    CHECK(err_of("vpn.example.net:") == "no valid port (1 to 65535)");
    CHECK(err_of("vpn.example.net:4x") == "no valid port (1 to 65535)");
    CHECK(err_of("2001:db8::1:51820").find("in brackets") != std::string::npos);
    CHECK(err_of("2001:db8::1", 4222).find("in brackets") != std::string::npos);
    CHECK(err_of("[2001:db8::1").find("missing ']'") != std::string::npos);
    CHECK(err_of("[2001:db8::1]x").find("expected ':'") != std::string::npos);
    CHECK(err_of("[10.0.0.1]:5").find("not an IPv6 address") != std::string::npos);
    CHECK(err_of("300.1.1.1:5").find("not a host name or IPv4") != std::string::npos);
    CHECK(err_of("bad host:5").find("not a host name") != std::string::npos);
    CHECK(err_of(":5").find("not a host name") != std::string::npos);
    CHECK(err_of("").find("not a host name") != std::string::npos);
}

TEST_CASE("host_port: DNS names") {
    CHECK(valid_dns_name("a"));
    CHECK(valid_dns_name("nl3.wg.ivpn.net."));
    CHECK(valid_dns_name("_srv.example"));
    CHECK_FALSE(valid_dns_name("-a.example"));
    CHECK_FALSE(valid_dns_name("a-.example"));
    CHECK_FALSE(valid_dns_name("a..example"));
    CHECK_FALSE(valid_dns_name("1.2.3"));
    CHECK_FALSE(valid_dns_name(std::string(64, 'a') + ".example"));
    CHECK(valid_dns_name(std::string(63, 'a') + ".example"));
    std::string long_name;
    while (long_name.size() < 254) long_name += "abcdefgh.";
    CHECK_FALSE(valid_dns_name(long_name));
}
