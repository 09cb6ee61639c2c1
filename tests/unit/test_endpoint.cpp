#include <doctest/doctest.h>

#include "relay/wire/endpoint.h"
#include "relay/gate.h"

using namespace pave;

namespace {
Endpoint ep(const char* text) {
    auto e = Endpoint::parse(text);
    REQUIRE(e);
    return *e;
}
}  // namespace

TEST_CASE("endpoint: IPv4-mapped IPv6 has one canonical form") {
    const Endpoint v4 = ep("192.0.2.7:4242");
    const Endpoint mapped = ep("[::ffff:192.0.2.7]:4242");
    CHECK(mapped.family() == AF_INET6);  // parse keeps the spelling
    CHECK(Endpoint::is_v4_mapped(mapped.ip_bytes()));
    CHECK_FALSE(Endpoint::is_v4_mapped(v4.ip_bytes()));
    CHECK(v4.canonical_ip() == Bytes{192, 0, 2, 7});
    CHECK(mapped.canonical_ip() == Bytes{192, 0, 2, 7});
    CHECK(v4.ip16() == mapped.ip16());
    CHECK(v4.mapped_key() == mapped.mapped_key());
    const ByteArray<18> want{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7, 0x10, 0x92};
    CHECK(v4.mapped_key() == want);
    // The inverse gives IPv4 back.
    const Endpoint back = Endpoint::from_ip16(v4.ip16(), 4242);
    CHECK(back.family() == AF_INET);
    CHECK(back == v4);

    // Other IPv6 forms are not IPv4-mapped (::ffff:0:0:0/96 is SIIT, ::/96 the old compatible form).
    CHECK_FALSE(Endpoint::is_v4_mapped(ep("[::ffff:0:c000:207]:1").ip_bytes()));
    CHECK_FALSE(Endpoint::is_v4_mapped(ep("[::c000:207]:1").ip_bytes()));
    const Endpoint v6 = ep("[2001:db8::1]:53");
    CHECK(v6.canonical_ip() == v6.ip_bytes());
    CHECK(Endpoint::from_ip16(v6.ip16(), 53) == v6);
    CHECK(Endpoint::unmapped_ip(Bytes{1, 2, 3}) == Bytes{1, 2, 3});

    const Endpoint none;
    CHECK(none.mapped_key() == ByteArray<18>{});
    CHECK(none.canonical_ip().empty());
}

TEST_CASE("endpoint: every key that merges the spellings does") {
    const Endpoint v4 = ep("198.51.100.9:51820");
    const Endpoint mapped = ep("[::ffff:198.51.100.9]:51820");
    SessionCaps caps(/*per_ip=*/1, /*total=*/10);
    REQUIRE(caps.try_add(v4.ip_bytes()));
    CHECK(caps.count(mapped.ip_bytes()) == 1);
    CHECK_FALSE(caps.try_add(mapped.ip_bytes()));  // the same address, the same budget
    // IPv6 counts per /64.
    REQUIRE(caps.try_add(ep("[2001:db8:1:2:3::4]:1").ip_bytes()));
    CHECK(caps.count(ep("[2001:db8:1:2:ffff::9]:1").ip_bytes()) == 1);
    CHECK_FALSE(caps.try_add(Bytes{1, 2, 3}));
}
