#include <doctest/doctest.h>

#include "crypto/hex.h"
#include "relay/wire/endpoint.h"

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

#include "node/log.h"

TEST_CASE("log lines lose their addresses") {
    using pave::log::redact_addresses;
    CHECK(redact_addresses("[node abc 203.0.113.10:4600] got pong") == "[node abc <addr>] got pong");
    CHECK(redact_addresses("from 10.1.0.2 and [2001:db8::1]:443 and [::1]") == "from <addr> and <addr> and <addr>");
    CHECK(redact_addresses("version 2.4.12 took 1.5 s, id 0123abcd") == "version 2.4.12 took 1.5 s, id 0123abcd");
    CHECK(redact_addresses("1.2.3.4.5 stays") == "1.2.3.4.5 stays");
    CHECK(redact_addresses("[search 1a2b IPv4] listen") == "[search 1a2b IPv4] listen");
    CHECK(redact_addresses("") == "");
}
