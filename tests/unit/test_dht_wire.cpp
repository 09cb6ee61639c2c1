#include <doctest/doctest.h>

#include <msgpack.hpp>

#include <string>

#include "dht/dht_wire.h"

using namespace pave;

namespace {

// An OpenDHT-shaped message: a map of `pairs` entries whose keys include the given ones.
Bytes message(std::initializer_list<std::pair<std::string, uint32_t>> fields, size_t filler = 0) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    pk.pack_map(uint32_t(fields.size() + filler));
    for (const auto& [k, v] : fields) {
        pk.pack(k);
        pk.pack(v);
    }
    for (size_t i = 0; i < filler; ++i) {
        pk.pack("x" + std::to_string(i));
        pk.pack(i);
    }
    return Bytes(buf.data(), buf.data() + buf.size());
}

msgpack::object_handle unpack(const Bytes& b) {
    return msgpack::unpack(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

TEST_CASE("dht wire: kinds and transaction ids as OpenDHT 2.4 decides them") {
    auto q = inspect_dht_message(message({{"q", 1}, {"t", 77}, {"y", 0}}));
    REQUIRE(q);
    CHECK(q->kind == DhtMessageKind::request);
    CHECK(q->tid == 77u);
    auto r = inspect_dht_message(message({{"r", 1}, {"t", 0xffffffffu}}));
    REQUIRE(r);
    CHECK(r->kind == DhtMessageKind::reply);
    CHECK(r->tid == 0xffffffffu);
    CHECK(inspect_dht_message(message({{"e", 1}, {"r", 1}}))->kind == DhtMessageKind::error);
    CHECK(inspect_dht_message(message({{"p", 1}}))->kind == DhtMessageKind::value_part);
    CHECK(inspect_dht_message(message({{"u", 1}}))->kind == DhtMessageKind::listen_update);
    CHECK_FALSE(inspect_dht_message(message({{"t", 1}})));  // names no kind
    SUBCASE("4-byte binary transaction id (older peers)") {
        msgpack::sbuffer buf;
        msgpack::packer<msgpack::sbuffer> pk(&buf);
        pk.pack_map(2);
        pk.pack("r");
        pk.pack(1);
        pk.pack("t");
        pk.pack_bin(4);
        pk.pack_bin_body("\x01\x02\x03\x04", 4);
        auto i = inspect_dht_message(Bytes(buf.data(), buf.data() + buf.size()));
        REQUIRE(i);
        CHECK(i->tid == 0x01020304u);
    }
    SUBCASE("a transaction id out of range is ignored") {
        msgpack::sbuffer buf;
        msgpack::packer<msgpack::sbuffer> pk(&buf);
        pk.pack_map(2);
        pk.pack("r");
        pk.pack(1);
        pk.pack("t");
        pk.pack(uint64_t(1) << 40);
        auto i = inspect_dht_message(Bytes(buf.data(), buf.data() + buf.size()));
        REQUIRE(i);
        CHECK_FALSE(i->tid);
    }
}

TEST_CASE("dht wire: rejects what is not one msgpack map") {
    CHECK_FALSE(inspect_dht_message(Bytes{}));
    CHECK_FALSE(inspect_dht_message(Bytes{0x01, 0x02}));
    CHECK_FALSE(inspect_dht_message(Bytes{0x81}));              // truncated
    CHECK_FALSE(inspect_dht_message(Bytes{0xdf, 0xff, 0xff, 0xff, 0xff}));  // 4 G pairs claimed
    Bytes deep(64, 0x81);  // maps nested past the depth limit
    CHECK_FALSE(inspect_dht_message(deep));
}

TEST_CASE("dht wire: mark_as_client adds \"s\": true to every map size OpenDHT sends") {
    for (size_t filler : {0, 3, 12, 13, 14, 38}) {  // maps of 2, 5, 14, 15 (fixmap full), 16, 40 pairs
        CAPTURE(filler);
        Bytes m = message({{"q", 1}, {"t", 9}}, filler);
        std::vector<uint8_t> out;
        REQUIRE(mark_as_client(m, out));
        auto oh = unpack(Bytes(out.begin(), out.end()));
        const auto& o = oh.get();
        REQUIRE(o.type == msgpack::type::MAP);
        auto before = unpack(m);
        CHECK(o.via.map.size == before.get().via.map.size + 1);
        const auto& last = o.via.map.ptr[o.via.map.size - 1];
        CHECK(last.key.as<std::string>() == "s");
        CHECK(last.val.as<bool>());
        auto i = inspect_dht_message(Bytes(out.begin(), out.end()));
        REQUIRE(i);
        CHECK(i->tid == 9u);
    }
    std::vector<uint8_t> out;
    CHECK_FALSE(mark_as_client(Bytes{}, out));
    CHECK_FALSE(mark_as_client(Bytes{0x01}, out));
    CHECK_FALSE(mark_as_client(Bytes{0xde, 0xff, 0xff}, out));  // map16 already full
    CHECK_FALSE(mark_as_client(Bytes{0xde, 0x00}, out));        // truncated header
}
