#include <doctest/doctest.h>

#include "crypto/hex.h"
#include "relay/endpoint.h"

using namespace pave;

TEST_CASE("hex round trip and rejects bad input") {
    Bytes b{0x00, 0x01, 0xab, 0xff};
    CHECK(to_hex(b) == "0001abff");
    CHECK(from_hex("0001ABff") == b);
    CHECK_FALSE(from_hex("abc").has_value());
    CHECK_FALSE(from_hex("zz").has_value());
}

TEST_CASE("endpoint parse and print") {
    auto e = Endpoint::parse("192.0.2.7:51820");
    REQUIRE(e);
    CHECK(e->to_string() == "192.0.2.7:51820");
    CHECK(e->port() == 51820);
    CHECK(e->ip_bytes() == Bytes{192, 0, 2, 7});
    auto e6 = Endpoint::parse("[2001:db8::1]:443");
    REQUIRE(e6);
    CHECK(e6->to_string() == "[2001:db8::1]:443");
    CHECK_FALSE(Endpoint::parse("192.0.2.7").has_value());
    CHECK_FALSE(Endpoint::parse("192.0.2.7:70000").has_value());
    CHECK_FALSE(Endpoint::parse("2001:db8::1:443").has_value());
    CHECK_FALSE(Endpoint::parse("host.example:443").has_value());
    CHECK_FALSE(Endpoint::parse("1.2.3.4:").has_value());
}
