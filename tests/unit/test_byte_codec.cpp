#include <doctest/doctest.h>

#include "crypto/byte_reader.h"
#include "crypto/byte_writer.h"

using namespace pave;

TEST_CASE("byte reader: integers in both byte orders") {
    const Bytes b{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    ByteReader r(b);
    uint8_t a = 0;
    uint16_t x = 0;
    uint32_t y = 0;
    uint64_t z = 0;
    REQUIRE(r.u8(a));
    CHECK(a == 0x01);
    REQUIRE(r.u16be(x));
    CHECK(x == 0x0203);
    REQUIRE(r.u32le(y));
    CHECK(y == 0x07060504);
    REQUIRE(r.u64be(z));
    CHECK(z == 0x08090a0b0c0d0e0full);
    CHECK(r.at_end());
    CHECK(r.ok());
    CHECK(r.consumed().size() == b.size());

    ByteReader l(b);
    REQUIRE(l.u64le(z));
    CHECK(z == 0x0807060504030201ull);
    REQUIRE(l.u16le(x));
    CHECK(x == 0x0a09);
    REQUIRE(l.u32be(y));
    CHECK(y == 0x0b0c0d0e);
    CHECK(l.remaining() == 1);
}

TEST_CASE("byte reader: a short read reads nothing and fails the reader") {
    const Bytes b{0xaa, 0xbb, 0xcc};
    ByteReader r(b);
    uint32_t v = 0x12345678;
    CHECK_FALSE(r.u32be(v));
    CHECK(v == 0x12345678);  // untouched
    CHECK_FALSE(r.ok());
    CHECK(r.offset() == 0);
    // Sticky: even a read that would fit now fails, so a chain is checked once.
    uint8_t x = 0;
    CHECK_FALSE(r.u8(x));
    CHECK_FALSE(r.has(1));

    ByteReader s(b);
    ByteView view;
    CHECK(s.view(2, view));
    CHECK(view.size() == 2);
    CHECK(view[1] == 0xbb);
    CHECK_FALSE(s.skip(2));
    ByteReader t(b);
    CHECK(t.skip(3));
    CHECK(t.at_end());
    CHECK_FALSE(t.skip(1));

    // Lengths near SIZE_MAX cannot wrap the bounds check.
    ByteReader u(b);
    CHECK_FALSE(u.skip(SIZE_MAX));
    ByteReader w(ByteView{});
    CHECK_FALSE(w.u8(x));
    CHECK(ByteReader(ByteView{}).skip(0));
}

TEST_CASE("byte reader: expected values, padding and range checks") {
    const Bytes b{0x21, 0x12, 0xa4, 0x42, 0x07, 0x00, 0x00};
    ByteReader r(b);
    CHECK(r.expect_u32be(0x2112a442));
    CHECK(r.expect_u8(7));
    CHECK(r.zeros_to_end());
    CHECK(r.at_end());

    ByteReader bad(b);
    CHECK_FALSE(bad.expect_u8(0x22));
    CHECK_FALSE(bad.ok());

    const Bytes nz{0x00, 0x01};
    ByteReader p(nz);
    CHECK_FALSE(p.zeros_to_end());
    CHECK_FALSE(p.ok());

    ByteReader c(b);
    CHECK_FALSE(c.check(false));
    uint8_t x = 0;
    CHECK_FALSE(c.u8(x));
}

TEST_CASE("byte writer: fixed buffer, integers, padding, patching") {
    ByteArray<16> buf{};
    ByteWriter w(buf);
    CHECK(w.u8(0x01));
    CHECK(w.u16be(0x0203));
    CHECK(w.u32le(0x07060504));
    CHECK(w.pad_to(8));
    CHECK(w.size() == 8);
    CHECK(w.u64be(0x1112131415161718ull));
    CHECK(w.room() == 0);
    const ByteArray<16> want{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x00,
                             0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
    CHECK(buf == want);
    CHECK(w.patch_u16be(1, 0xbeef));
    CHECK(buf[1] == 0xbe);
    CHECK(buf[2] == 0xef);
    CHECK(w.ok());
}

TEST_CASE("byte writer: a write past the capacity writes nothing and fails the writer") {
    ByteArray<3> buf{};
    ByteWriter w(buf);
    CHECK(w.u16be(0xaabb));
    CHECK_FALSE(w.u16be(0xccdd));
    CHECK(buf[2] == 0);  // nothing partial
    CHECK_FALSE(w.ok());
    CHECK_FALSE(w.u8(1));  // sticky
    CHECK(w.size() == 2);

    ByteArray<4> p{};
    ByteWriter q(p);
    q.u16be(1);
    CHECK_FALSE(q.patch_u16be(1, 0xffff));  // would cover an unwritten byte
    CHECK(p[2] == 0);
    ByteWriter big(p);
    CHECK_FALSE(big.zeros(SIZE_MAX));
}

TEST_CASE("byte writer: appending to Bytes, with and without a limit") {
    Bytes out{0x99};
    ByteWriter w(out);
    CHECK(w.u32be(0x01020304));
    CHECK(w.u64le(1));
    CHECK(w.put(Bytes{0xaa, 0xbb}));
    CHECK(out.size() == 1 + 4 + 8 + 2);
    CHECK(out[0] == 0x99);  // what was there stays
    CHECK(out[1] == 0x01);
    CHECK(out[5] == 0x01);
    CHECK(out[6] == 0x00);
    CHECK(w.written().size() == 14);
    CHECK(w.written()[0] == 0x01);
    CHECK(w.patch_u32be(0, 0xdeadbeef));
    CHECK(out[1] == 0xde);

    Bytes lim;
    ByteWriter l(lim, 5);
    CHECK(l.u32be(7));
    CHECK_FALSE(l.u16be(7));
    CHECK(lim.size() == 4);
    CHECK(l.u8(7) == false);  // sticky
}

TEST_CASE("byte reader and writer: round trip") {
    Bytes out;
    ByteWriter w(out);
    const ByteArray<4> a{9, 8, 7, 6};
    REQUIRE((w.u8(0x42) && w.u16le(0x1234) && w.put(a) && w.u64be(0xfedcba9876543210ull) && w.zeros(3)));
    ByteReader r(out);
    uint8_t x = 0;
    uint16_t y = 0;
    ByteArray<4> b{};
    uint64_t z = 0;
    REQUIRE((r.u8(x) && r.u16le(y) && r.array(b) && r.u64be(z) && r.zeros_to_end()));
    CHECK(x == 0x42);
    CHECK(y == 0x1234);
    CHECK(b == a);
    CHECK(z == 0xfedcba9876543210ull);
}
