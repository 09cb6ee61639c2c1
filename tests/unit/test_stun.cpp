#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crypto/byte_writer.h"
#include "crypto/hex.h"
#include "relay/wire/stun.h"

using namespace pave;

namespace {

Bytes hex(std::string_view s) {
    std::string clean;
    for (char c : s)
        if (c != ' ' && c != '\n') clean.push_back(c);
    auto b = from_hex(clean);
    REQUIRE(b.has_value());
    return *b;
}

// RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
// MESSAGE-INTEGRITY, FINGERPRINT).
const char* kRfc5769Request =
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf";

// RFC 5769 §2.2: sample IPv4 response, mapped address 192.0.2.1:32853.
const char* kRfc5769ResponseV4 =
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96";

// RFC 5769 §2.3: sample IPv6 response, mapped address [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const char* kRfc5769ResponseV6 =
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c";

StunTxId rfc_txid() {
    StunTxId t{};
    const Bytes b = hex("b7e7a701bc34d686fa87dfae");
    std::copy(b.begin(), b.end(), t.begin());
    return t;
}

StunTxId txid_of(uint8_t seed) {
    StunTxId t{};
    for (size_t i = 0; i < t.size(); ++i) t[i] = uint8_t(seed + i * 17);
    return t;
}

// Overwrites the header's length field.
void set_length(Bytes& m, size_t len) { ByteWriter(std::span<uint8_t>(m).subspan(2, 2)).u16be(uint16_t(len)); }

// A FINGERPRINT attribute carrying crc (already XORed).
void put_fingerprint(ByteWriter& w, uint32_t crc) { w.u16be(kStunAttrFingerprint) && w.u16be(4) && w.u32be(crc); }

// A request with the given attributes (type, value), padded, length field set.
Bytes request_with(const std::vector<std::pair<uint16_t, Bytes>>& attrs, uint16_t type = kStunBindingRequest,
                   const StunTxId& tx = txid_of(1)) {
    Bytes m;
    ByteWriter w(m);
    w.u16be(type) && w.u16be(0) && w.u32be(kStunMagicCookie) && w.put(tx);
    for (const auto& [t, v] : attrs) w.u16be(t) && w.u16be(uint16_t(v.size())) && w.put(v) && w.pad_to(4);
    REQUIRE(w.ok());
    set_length(m, m.size() - kStunHeaderSize);
    return m;
}

Bytes with_fingerprint(Bytes m) {
    set_length(m, m.size() - kStunHeaderSize + 8);
    const uint32_t fp = stun_crc32(m) ^ 0x5354554e;
    ByteWriter w(m);
    put_fingerprint(w, fp);
    return m;
}

Endpoint ep(const char* s) {
    auto e = Endpoint::parse(s);
    REQUIRE(e.has_value());
    return *e;
}

uint16_t rd16(const Bytes& b, size_t o) { return uint16_t((b[o] << 8) | b[o + 1]); }

}  // namespace

TEST_CASE("stun: CRC-32 check value and RFC 5769 FINGERPRINTs") {
    const std::string check = "123456789";
    CHECK(stun_crc32(ByteView(reinterpret_cast<const uint8_t*>(check.data()), check.size())) == 0xCBF43926u);
    CHECK(stun_crc32(ByteView()) == 0u);
    for (const char* v : {kRfc5769Request, kRfc5769ResponseV4, kRfc5769ResponseV6}) {
        const Bytes m = hex(v);
        const size_t at = m.size() - 4;
        const uint32_t want = (uint32_t(m[at]) << 24) | (uint32_t(m[at + 1]) << 16) | (uint32_t(m[at + 2]) << 8) | m[at + 3];
        CHECK((stun_crc32(ByteView(m).first(m.size() - 8)) ^ 0x5354554eu) == want);
        auto parsed = parse_stun_message(m);
        REQUIRE(parsed.has_value());
        CHECK(parsed->has_fingerprint);
        CHECK(parsed->has_integrity);
        CHECK(parsed->txid == rfc_txid());
    }
}

TEST_CASE("stun: RFC 5769 sample responses give the documented mapped addresses") {
    auto v4 = parse_binding_response(hex(kRfc5769ResponseV4), rfc_txid());
    REQUIRE(v4.has_value());
    CHECK(v4->to_string() == "192.0.2.1:32853");
    auto v6 = parse_binding_response(hex(kRfc5769ResponseV6), rfc_txid());
    REQUIRE(v6.has_value());
    CHECK(*v6 == ep("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
    // Wrong transaction id.
    StunTxId other = rfc_txid();
    other[11] ^= 1;
    CHECK_FALSE(parse_binding_response(hex(kRfc5769ResponseV4), other).has_value());
    // A flipped bit anywhere covered by the FINGERPRINT, or in its length or value, breaks it.
    // (Flipping its type bytes turns it into some other, optional, attribute, which is ignored.)
    const Bytes good = hex(kRfc5769ResponseV4);
    for (size_t i = 0; i < good.size(); ++i) {
        if (i == good.size() - 8 || i == good.size() - 7) continue;
        Bytes bad = good;
        bad[i] ^= 0x04;
        INFO("flipped byte ", i);
        CHECK_FALSE(parse_binding_response(bad, rfc_txid()).has_value());
    }
}

TEST_CASE("stun: RFC 5769 sample request gets a 420 listing its comprehension-required attributes") {
    const Bytes req = hex(kRfc5769Request);
    auto r = parse_binding_request(req);
    REQUIRE(r.has_value());
    CHECK(r->txid == rfc_txid());
    // PRIORITY, USERNAME, MESSAGE-INTEGRITY; ICE-CONTROLLED (0x8029) and SOFTWARE are optional.
    CHECK(r->unknown_required == std::vector<uint16_t>{0x0024, 0x0006, 0x0008});
    Bytes out;
    CHECK(handle_request(req, ep("192.0.2.1:32853"), out) == StunAction::answer_420);
    auto m = parse_stun_message(out);
    REQUIRE(m.has_value());
    CHECK(m->type == kStunBindingError);
    CHECK(m->txid == rfc_txid());
    CHECK(m->error_code == uint16_t(420));
    CHECK(m->has_fingerprint);
    // UNKNOWN-ATTRIBUTES right after the 28-byte ERROR-CODE attribute.
    REQUIRE(out.size() == 20 + 28 + 4 + 8 + 8);
    CHECK(rd16(out, 48) == kStunAttrUnknownAttributes);
    CHECK(rd16(out, 50) == 6);
    CHECK(rd16(out, 52) == 0x0024);
    CHECK(rd16(out, 54) == 0x0006);
    CHECK(rd16(out, 56) == 0x0008);
    CHECK(rd16(out, 58) == 0x0000);  // padding
    // Never answered as a success by our own client.
    CHECK_FALSE(parse_binding_response(out, rfc_txid()).has_value());
}

TEST_CASE("stun: plain binding request is answered with XOR-MAPPED-ADDRESS, IPv4 and IPv6") {
    for (const char* from_s : {"203.0.113.9:40000", "[2001:db8::1:2]:65535", "1.2.3.4:1"}) {
        StunTxId tx{};
        const Bytes req = build_binding_request(tx);
        REQUIRE(req.size() == 20);
        CHECK(rd16(req, 0) == kStunBindingRequest);
        CHECK(rd16(req, 2) == 0);
        const Endpoint from = ep(from_s);
        Bytes out;
        REQUIRE(handle_request(req, from, out) == StunAction::answer_success);
        CHECK(out.size() == (from.family() == AF_INET ? 40u : 52u));
        CHECK(out.size() <= 3 * req.size());
        auto m = parse_stun_message(out);
        REQUIRE(m.has_value());
        CHECK(m->type == kStunBindingSuccess);
        CHECK(m->has_fingerprint);
        CHECK_FALSE(m->mapped.has_value());
        auto mapped = parse_binding_response(out, tx);
        REQUIRE(mapped.has_value());
        CHECK(*mapped == from);
        StunTxId wrong = tx;
        wrong[0] ^= 0x80;
        CHECK_FALSE(parse_binding_response(out, wrong).has_value());
    }
}

TEST_CASE("stun: two requests get distinct random transaction ids") {
    StunTxId a{}, b{};
    build_binding_request(a);
    build_binding_request(b);
    CHECK(a != b);
}

TEST_CASE("stun: request truncated at every byte is ignored") {
    const Bytes req = with_fingerprint(request_with({{kStunAttrSoftware, Bytes{'p', 'a', 'v', 'e', '1'}}}));
    Bytes out;
    REQUIRE(handle_request(req, ep("10.0.0.1:5"), out) == StunAction::answer_success);
    for (size_t n = 0; n < req.size(); ++n) {
        CHECK_FALSE(parse_binding_request(ByteView(req).first(n)).has_value());
        CHECK(handle_request(ByteView(req).first(n), ep("10.0.0.1:5"), out) == StunAction::ignore);
        CHECK(out.empty());
    }
    // And with its length field adjusted to each 4-byte-aligned truncation: the cut attribute
    // overruns, except at 32 bytes, the cut just before the FINGERPRINT (a valid request).
    REQUIRE(req.size() == 40);
    for (size_t n = 24; n < req.size(); n += 4) {
        Bytes t(req.begin(), req.begin() + long(n));
        set_length(t, n - 20);
        CHECK(parse_binding_request(t).has_value() == (n == 32));
    }
}

TEST_CASE("stun: bad header fields are ignored") {
    const Bytes good = request_with({});
    REQUIRE(parse_binding_request(good).has_value());
    Bytes out;
    // Bad cookie.
    for (size_t i = 4; i < 8; ++i) {
        Bytes b = good;
        b[i] ^= 0xFF;
        CHECK_FALSE(parse_binding_request(b).has_value());
    }
    // Length field wrong (too small, too large, not a multiple of 4).
    for (uint16_t len : {uint16_t(4), uint16_t(1), uint16_t(0xFFFC)}) {
        Bytes b = request_with({{kStunAttrSoftware, Bytes{1, 2, 3, 4}}});
        set_length(b, len);
        CHECK_FALSE(parse_binding_request(b).has_value());
    }
    Bytes odd = good;
    odd.push_back(0);
    odd[3] = 1;
    CHECK_FALSE(parse_binding_request(odd).has_value());
    // Top two bits set.
    Bytes top = good;
    top[0] = 0x40;
    CHECK_FALSE(parse_stun_message(top).has_value());
    // Other classes and methods are never answered.
    for (uint16_t type : {kStunBindingIndication, kStunBindingSuccess, kStunBindingError, uint16_t(0x0003),
                          uint16_t(0x0002), uint16_t(0x0000)}) {
        const Bytes m = request_with({}, type);
        CHECK(parse_stun_message(m).has_value());
        CHECK_FALSE(parse_binding_request(m).has_value());
        CHECK(handle_request(m, ep("10.0.0.1:5"), out) == StunAction::ignore);
        CHECK(out.empty());
    }
    // Nothing answered to an invalid or port-0 source.
    CHECK(handle_request(good, Endpoint{}, out) == StunAction::ignore);
    CHECK(handle_request(good, ep("10.0.0.1:0"), out) == StunAction::ignore);
}

TEST_CASE("stun: attribute bounds") {
    // Attribute length overrunning the message.
    Bytes m = request_with({{kStunAttrSoftware, Bytes(8, 'x')}});
    m[20 + 3] = 9;  // claims 9 bytes (padded to 12) with only 8 present
    CHECK_FALSE(parse_stun_message(m).has_value());
    m[20 + 3] = 0xFF;
    CHECK_FALSE(parse_stun_message(m).has_value());
    // Attribute length whose padding is missing: 5 bytes of value, 3 of padding would be needed.
    Bytes p = request_with({{kStunAttrSoftware, Bytes(4, 'x')}});
    p[20 + 3] = 5;
    CHECK_FALSE(parse_stun_message(p).has_value());
    // A dangling partial attribute header.
    Bytes d = request_with({{kStunAttrSoftware, Bytes(4, 'x')}});
    d.insert(d.end(), {0x80, 0x22, 0x00, 0x00});
    d[3] = uint8_t(d.size() - 20);
    CHECK(parse_stun_message(d).has_value());  // a zero-length attribute is fine
    // Unpadded (odd) attribute length that is correctly padded.
    Bytes q = request_with({{kStunAttrSoftware, Bytes(5, 'y')}});
    CHECK(q.size() == 32);
    CHECK(parse_stun_message(q).has_value());
    // Too many attributes.
    std::vector<std::pair<uint16_t, Bytes>> many(65, {kStunAttrSoftware, Bytes{}});
    CHECK_FALSE(parse_stun_message(request_with(many)).has_value());
    many.resize(64);
    CHECK(parse_stun_message(request_with(many)).has_value());
}

TEST_CASE("stun: FINGERPRINT must be correct and last") {
    const Bytes good = with_fingerprint(request_with({}));
    Bytes out;
    CHECK(handle_request(good, ep("10.0.0.1:5"), out) == StunAction::answer_success);
    Bytes bad = good;
    bad.back() ^= 1;
    CHECK_FALSE(parse_binding_request(bad).has_value());
    // Wrong FINGERPRINT length.
    Bytes wrong_len = request_with({{kStunAttrFingerprint, Bytes(8, 0)}});
    CHECK_FALSE(parse_stun_message(wrong_len).has_value());
    // An attribute after a FINGERPRINT whose CRC is right for the final length field.
    Bytes after = request_with({});
    set_length(after, 8 + 4);
    const uint32_t fp = stun_crc32(after) ^ 0x5354554e;
    ByteWriter aw(after);
    put_fingerprint(aw, fp);
    aw.u16be(kStunAttrSoftware) && aw.u16be(0);
    CHECK_FALSE(parse_stun_message(after).has_value());
    CHECK_FALSE(parse_stun_message(ByteView(after).first(28)).has_value());  // length field now wrong
    Bytes cut(after.begin(), after.begin() + 28);
    cut[3] = 8;
    CHECK_FALSE(parse_stun_message(cut).has_value());  // CRC covered the old length field
}

TEST_CASE("stun: unknown comprehension-required attribute gets 420, optional ones are ignored") {
    Bytes out;
    const Endpoint from = ep("192.0.2.77:4242");
    // Comprehension-optional unknown (0x8123) and SOFTWARE: success.
    const Bytes opt = request_with({{0x8123, Bytes{1, 2, 3}}, {kStunAttrSoftware, Bytes{'x'}}});
    REQUIRE(handle_request(opt, from, out) == StunAction::answer_success);
    {
        StunTxId tx = txid_of(1);
        auto mapped = parse_binding_response(out, tx);
        REQUIRE(mapped.has_value());
        CHECK(*mapped == from);
    }
    // CHANGE-REQUEST (0x0003) and an unknown 0x7fff, one repeated: 420 listing both once.
    const Bytes req = request_with({{0x0003, Bytes{0, 0, 0, 0}}, {0x8123, Bytes{}}, {0x7fff, Bytes{}}, {0x0003, Bytes{0, 0, 0, 0}}});
    REQUIRE(handle_request(req, from, out) == StunAction::answer_420);
    CHECK(out.size() == 64);
    CHECK(out.size() <= 3 * req.size());
    auto m = parse_stun_message(out);
    REQUIRE(m.has_value());
    CHECK(m->type == kStunBindingError);
    CHECK(m->error_code == uint16_t(420));
    CHECK(m->txid == txid_of(1));
    CHECK(rd16(out, 48) == kStunAttrUnknownAttributes);
    CHECK(rd16(out, 50) == 4);
    CHECK(rd16(out, 52) == 0x0003);
    CHECK(rd16(out, 54) == 0x7fff);
    // USERNAME alone: 420 (no authentication on this server).
    REQUIRE(handle_request(request_with({{kStunAttrUsername, Bytes{'u'}}}), from, out) == StunAction::answer_420);
    CHECK(rd16(out, 52) == kStunAttrUsername);
    // Attributes after MESSAGE-INTEGRITY are ignored: only 0x0008 is listed, not 0x0024.
    auto r = parse_binding_request(request_with({{kStunAttrMessageIntegrity, Bytes(20, 0)}, {0x0024, Bytes(4, 0)}}));
    REQUIRE(r.has_value());
    CHECK(r->unknown_required == std::vector<uint16_t>{kStunAttrMessageIntegrity});
}

TEST_CASE("stun: 420 size is bounded and lists at most kStunMaxUnknownListed types") {
    std::vector<std::pair<uint16_t, Bytes>> attrs;
    for (uint16_t t = 0x0100; t < 0x0100 + 40; ++t) attrs.push_back({t, Bytes{}});
    const Bytes req = request_with(attrs);
    auto r = parse_binding_request(req);
    REQUIRE(r.has_value());
    CHECK(r->unknown_required.size() == kStunMaxUnknownListed);
    Bytes out;
    REQUIRE(handle_request(req, ep("10.1.1.1:9"), out) == StunAction::answer_420);
    CHECK(out.size() == 92);
    CHECK(out.size() < req.size());
    // Building with more than the cap also truncates.
    std::vector<uint16_t> lots(100, 0x0042);
    CHECK(build_error_420(txid_of(3), lots).size() == 92);
    CHECK(build_error_420(txid_of(3), {}).size() == 60);
    CHECK(parse_stun_message(build_error_420(txid_of(3), {})).has_value());
}

TEST_CASE("stun: success response builder rejects an invalid endpoint") {
    CHECK(build_binding_success(txid_of(1), Endpoint{}).empty());
}

TEST_CASE("stun: client response parsing") {
    const StunTxId tx = txid_of(9);
    const Endpoint real = ep("198.51.100.20:3478");
    const Endpoint other = ep("203.0.113.5:1111");
    // MAPPED-ADDRESS only (fallback).
    const Bytes mapped_v = {0x00, 0x01, 0x0d, 0x96, 198, 51, 100, 20};
    auto fb = parse_binding_response(request_with({{kStunAttrMappedAddress, mapped_v}}, kStunBindingSuccess, tx), tx);
    REQUIRE(fb.has_value());
    CHECK(*fb == real);
    // Both: XOR-MAPPED-ADDRESS wins whatever the order.
    const Bytes succ = build_binding_success(tx, other);
    const Bytes xor_attr(succ.begin() + 24, succ.begin() + 32);
    const Bytes both1 = request_with({{kStunAttrMappedAddress, mapped_v}, {kStunAttrXorMappedAddress, xor_attr}},
                                     kStunBindingSuccess, tx);
    const Bytes both2 = request_with({{kStunAttrXorMappedAddress, xor_attr}, {kStunAttrMappedAddress, mapped_v}},
                                     kStunBindingSuccess, tx);
    CHECK(parse_binding_response(both1, tx) == std::optional<Endpoint>(other));
    CHECK(parse_binding_response(both2, tx) == std::optional<Endpoint>(other));
    // Legacy RFC 3489 and RFC 5780 attributes a server may add are tolerated.
    const Bytes legacy = request_with({{0x0004, mapped_v}, {0x0005, mapped_v}, {0x802b, mapped_v}, {0x802c, mapped_v},
                                       {kStunAttrXorMappedAddress, xor_attr}},
                                      kStunBindingSuccess, tx);
    CHECK(parse_binding_response(legacy, tx) == std::optional<Endpoint>(other));
    // Unknown comprehension-required attribute in a response: discarded.
    CHECK_FALSE(parse_binding_response(request_with({{0x0030, Bytes{}}, {kStunAttrXorMappedAddress, xor_attr}},
                                                    kStunBindingSuccess, tx),
                                       tx)
                    .has_value());
    // No address, malformed address, port 0, unknown family.
    CHECK_FALSE(parse_binding_response(request_with({}, kStunBindingSuccess, tx), tx).has_value());
    CHECK_FALSE(parse_binding_response(
                    request_with({{kStunAttrMappedAddress, Bytes{0, 1, 0, 5, 1, 2, 3}}}, kStunBindingSuccess, tx), tx)
                    .has_value());
    CHECK_FALSE(parse_binding_response(
                    request_with({{kStunAttrMappedAddress, Bytes{0, 3, 0, 5, 1, 2, 3, 4}}}, kStunBindingSuccess, tx), tx)
                    .has_value());
    CHECK_FALSE(parse_binding_response(
                    request_with({{kStunAttrMappedAddress, Bytes{0, 2, 0, 5, 1, 2, 3, 4}}}, kStunBindingSuccess, tx), tx)
                    .has_value());
    CHECK_FALSE(parse_binding_response(
                    request_with({{kStunAttrMappedAddress, Bytes{0, 1, 0, 0, 1, 2, 3, 4}}}, kStunBindingSuccess, tx), tx)
                    .has_value());
    // Wrong classes: request, error, indication with a valid address attribute.
    for (uint16_t type : {kStunBindingRequest, kStunBindingError, kStunBindingIndication, uint16_t(0x0103)}) {
        CHECK_FALSE(
            parse_binding_response(request_with({{kStunAttrXorMappedAddress, xor_attr}}, type, tx), tx).has_value());
    }
    // Our own request is not a response.
    StunTxId t2{};
    CHECK_FALSE(parse_binding_response(build_binding_request(t2), t2).has_value());
    // Truncation of a valid response at every byte.
    for (size_t n = 0; n < succ.size(); ++n) CHECK_FALSE(parse_binding_response(ByteView(succ).first(n), tx).has_value());
}

TEST_CASE("stun: NAT mapping classification") {
    const Endpoint r1 = ep("192.0.2.1:3478"), r1b = ep("192.0.2.1:3479"), r2 = ep("198.51.100.1:3478");
    const Endpoint m1 = ep("203.0.113.7:50000"), m2 = ep("203.0.113.7:50001");
    using O = StunObservation;
    CHECK(classify_nat_mapping({}) == NatMapping::unknown);
    std::vector<O> one{{r1, m1}};
    CHECK(classify_nat_mapping(one) == NatMapping::unknown);
    std::vector<O> same_refl{{r1, m1}, {r1, m1}};
    CHECK(classify_nat_mapping(same_refl) == NatMapping::unknown);
    std::vector<O> eim{{r1, m1}, {r2, m1}};
    CHECK(classify_nat_mapping(eim) == NatMapping::endpoint_independent);
    std::vector<O> edm{{r1, m1}, {r2, m2}};
    CHECK(classify_nat_mapping(edm) == NatMapping::endpoint_dependent);
    // Same IP, different port: a different mapping proves dependence, the same one proves nothing.
    std::vector<O> port_dep{{r1, m1}, {r1b, m2}};
    CHECK(classify_nat_mapping(port_dep) == NatMapping::endpoint_dependent);
    std::vector<O> port_same{{r1, m1}, {r1b, m1}};
    CHECK(classify_nat_mapping(port_same) == NatMapping::unknown);
    // One reflector reporting two mappings: the mapping changed meanwhile.
    std::vector<O> flappy{{r1, m1}, {r1, m2}, {r2, m1}};
    CHECK(classify_nat_mapping(flappy) == NatMapping::unknown);
    // Invalid entries are skipped.
    std::vector<O> invalid{{Endpoint{}, m1}, {r1, m1}, {r2, Endpoint{}}};
    CHECK(classify_nat_mapping(invalid) == NatMapping::unknown);
    std::vector<O> three{{r1, m1}, {r2, m1}, {r1b, m1}};
    CHECK(classify_nat_mapping(three) == NatMapping::endpoint_independent);
    CHECK(std::string(nat_mapping_name(NatMapping::endpoint_independent)) == "endpoint-independent");
    CHECK(std::string(nat_mapping_name(NatMapping::endpoint_dependent)) == "endpoint-dependent");
    CHECK(std::string(nat_mapping_name(NatMapping::unknown)) == "unknown");
}

TEST_CASE("stun: Binding success captured from coturn 4.6.1 (XOR-MAPPED, MAPPED, RESPONSE-ORIGIN, SOFTWARE)") {
    // Request txid 01..0c sent from 127.0.0.1:52072 to a loopback turnserver --stun-only.
    const Bytes resp = hex(
        "0101003c2112a4420102030405060708090a0b0c"
        "002000080001ea7a5e12a443"
        "000100080001cb687f000001"
        "802b00080001e3d57f000001"
        "80220014436f7475726e2d342e362e312027476f72737427");
    StunTxId tx{};
    for (size_t i = 0; i < tx.size(); ++i) tx[i] = uint8_t(i + 1);
    auto m = parse_stun_message(resp);
    REQUIRE(m.has_value());
    CHECK_FALSE(m->has_fingerprint);
    REQUIRE(m->xor_mapped.has_value());
    REQUIRE(m->mapped.has_value());
    CHECK(*m->xor_mapped == *m->mapped);
    auto mapped = parse_binding_response(resp, tx);
    REQUIRE(mapped.has_value());
    CHECK(mapped->to_string() == "127.0.0.1:52072");
    // Without the XOR-MAPPED-ADDRESS (first attribute) the MAPPED-ADDRESS is used.
    Bytes legacy(resp.begin(), resp.begin() + 20);
    legacy.insert(legacy.end(), resp.begin() + 32, resp.end());
    legacy[3] = uint8_t(legacy.size() - 20);
    CHECK(parse_binding_response(legacy, tx) == mapped);
}
