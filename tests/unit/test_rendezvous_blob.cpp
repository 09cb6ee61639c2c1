#include <doctest/doctest.h>

#include <cstring>

#include "crypto/hkdf.h"
#include "crypto/x25519.h"
#include "dht/rendezvous_blob.h"

using namespace pave;

namespace {

Endpoint ep(const char* s) {
    auto e = Endpoint::parse(s);
    REQUIRE(e);
    return *e;
}

struct Relay {
    Ed25519Key node = Ed25519Key::generate();
    X25519Key inbox = X25519Key::generate();
};

Offer sample_offer(const X25519Key& client_eph) {
    Offer o;
    for (size_t i = 0; i < 16; ++i) o.session_id[i] = uint8_t(i + 1);
    o.client_share = client_eph.pub;
    o.candidates = {ep("192.0.2.10:40000"), ep("[2001:db8::7]:40001"), ep("10.0.0.2:40002")};
    o.vpn = ep("198.51.100.1:51820");
    o.timestamp_ms = 1'700'000'001'000ULL;
    return o;
}

Answer sample_answer(const Offer& o) {
    Answer a;
    a.session_id = o.session_id;
    a.accepted = true;
    a.relay_share = X25519Key::generate().pub;
    a.candidates = {ep("203.0.113.5:50000"), ep("[2001:db8:1::5]:50001")};
    a.timestamp_ms = 1'700'000'002'000ULL;
    return a;
}

void check_same(const Offer& a, const Offer& b) {
    CHECK(a.session_id == b.session_id);
    CHECK(a.client_share == b.client_share);
    CHECK(a.candidates == b.candidates);
    CHECK(a.vpn == b.vpn);
    CHECK(a.timestamp_ms == b.timestamp_ms);
}

void check_same(const Answer& a, const Answer& b) {
    CHECK(a.session_id == b.session_id);
    CHECK(a.accepted == b.accepted);
    CHECK(a.refuse_code == b.refuse_code);
    CHECK(a.refuse_reason == b.refuse_reason);
    CHECK(a.relay_share == b.relay_share);
    CHECK(a.candidates == b.candidates);
    CHECK(a.timestamp_ms == b.timestamp_ms);
}

}  // namespace

TEST_CASE("rendezvous: offer and answer round trip") {
    Relay relay;
    auto client_eph = X25519Key::generate();
    auto offer = sample_offer(client_eph);
    const uint64_t period = 123456;

    auto sealed = seal_offer(offer, relay.inbox.pub, relay.node.public_key(), period);
    REQUIRE(sealed);
    CHECK(sealed->value.size() == kRendezvousValueSize);
    CHECK(sealed->answer_key_material.size() == kAnswerKeyMaterialSize);

    auto opened = open_offer(sealed->value, relay.inbox, relay.node.public_key(), period);
    REQUIRE(opened);
    check_same(opened->offer, offer);
    CHECK(opened->answer_key_material == sealed->answer_key_material);
    CHECK(rendezvous_hello_id(opened->answer_key_material) == rendezvous_hello_id(sealed->answer_key_material));

    auto answer = sample_answer(offer);
    auto value = seal_answer(answer, opened->offer.client_share, opened->answer_key_material);
    CHECK(value.size() == kRendezvousValueSize);
    auto got = open_answer(value, client_eph, sealed->answer_key_material);
    REQUIRE(got);
    check_same(*got, answer);

    // A refusal.
    Answer refuse;
    refuse.session_id = offer.session_id;
    refuse.accepted = false;
    refuse.refuse_code = 3;
    refuse.refuse_reason = "relay at capacity";
    refuse.timestamp_ms = 1'700'000'003'000ULL;
    value = seal_answer(refuse, offer.client_share, sealed->answer_key_material);
    REQUIRE(value.size() == kRendezvousValueSize);
    got = open_answer(value, client_eph, sealed->answer_key_material);
    REQUIRE(got);
    check_same(*got, refuse);
}

TEST_CASE("rendezvous: offers are only opened by the right key, relay and period") {
    Relay relay, other;
    auto client_eph = X25519Key::generate();
    auto offer = sample_offer(client_eph);
    auto sealed = seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 7);
    REQUIRE(sealed);
    CHECK_FALSE(open_offer(sealed->value, other.inbox, relay.node.public_key(), 7));
    CHECK_FALSE(open_offer(sealed->value, relay.inbox, other.node.public_key(), 7));
    CHECK_FALSE(open_offer(sealed->value, relay.inbox, relay.node.public_key(), 6));
    CHECK_FALSE(open_offer(sealed->value, relay.inbox, relay.node.public_key(), 8));
    CHECK(open_offer(sealed->value, relay.inbox, relay.node.public_key(), 7));

    // An offer value is not an answer, and an answer value is not an offer.
    auto opened = open_offer(sealed->value, relay.inbox, relay.node.public_key(), 7);
    REQUIRE(opened);
    auto value = seal_answer(sample_answer(offer), offer.client_share, opened->answer_key_material);
    REQUIRE(value.size() == kRendezvousValueSize);
    CHECK_FALSE(open_offer(value, client_eph, relay.node.public_key(), 7));
    CHECK_FALSE(open_answer(sealed->value, relay.inbox, opened->answer_key_material));
}

TEST_CASE("rendezvous: answers are only opened with the right ephemeral key and key material") {
    Relay relay;
    auto client_eph = X25519Key::generate();
    auto offer = sample_offer(client_eph);
    auto sealed = seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1);
    REQUIRE(sealed);
    auto value = seal_answer(sample_answer(offer), offer.client_share, sealed->answer_key_material);
    REQUIRE(value.size() == kRendezvousValueSize);

    CHECK_FALSE(open_answer(value, X25519Key::generate(), sealed->answer_key_material));
    auto other_material = sealed->answer_key_material;
    other_material[0] ^= 1;
    CHECK_FALSE(open_answer(value, client_eph, other_material));
    CHECK_FALSE(open_answer(value, client_eph, ByteView(sealed->answer_key_material.data(), 31)));
    CHECK(open_answer(value, client_eph, sealed->answer_key_material));

    // Another offer to the same relay has its own key material and hello id.
    auto sealed2 = seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1);
    REQUIRE(sealed2);
    CHECK(sealed2->answer_key_material != sealed->answer_key_material);
    CHECK(rendezvous_hello_id(sealed2->answer_key_material) != rendezvous_hello_id(sealed->answer_key_material));
    CHECK_FALSE(open_answer(value, client_eph, sealed2->answer_key_material));
}

TEST_CASE("rendezvous: every truncation, extension and bit flip is refused") {
    Relay relay;
    auto client_eph = X25519Key::generate();
    auto offer = sample_offer(client_eph);
    auto sealed = seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 9);
    REQUIRE(sealed);
    const auto& v = sealed->value;
    for (size_t n = 0; n < v.size(); ++n)
        CHECK_FALSE(open_offer(ByteView(v.data(), n), relay.inbox, relay.node.public_key(), 9));
    Bytes longer = v;
    longer.push_back(0);
    CHECK_FALSE(open_offer(longer, relay.inbox, relay.node.public_key(), 9));
    for (size_t i = 0; i < v.size(); i += 7) {
        Bytes bad = v;
        bad[i] ^= 0x04;
        CHECK_FALSE(open_offer(bad, relay.inbox, relay.node.public_key(), 9));
    }
    for (size_t i : {size_t(0), size_t(31), size_t(32), v.size() - 17, v.size() - 1}) {
        Bytes bad = v;
        bad[i] ^= 0x80;
        CHECK_FALSE(open_offer(bad, relay.inbox, relay.node.public_key(), 9));
    }

    auto answer = seal_answer(sample_answer(offer), offer.client_share, sealed->answer_key_material);
    REQUIRE(answer.size() == kRendezvousValueSize);
    for (size_t n = 0; n < answer.size(); ++n)
        CHECK_FALSE(open_answer(ByteView(answer.data(), n), client_eph, sealed->answer_key_material));
    for (size_t i = 0; i < answer.size(); i += 5) {
        Bytes bad = answer;
        bad[i] ^= 0x01;
        CHECK_FALSE(open_answer(bad, client_eph, sealed->answer_key_material));
    }
}

TEST_CASE("rendezvous: limits are enforced at seal") {
    Relay relay;
    auto client_eph = X25519Key::generate();
    auto offer = sample_offer(client_eph);

    offer.candidates.assign(8, ep("[2001:db8::1]:1"));  // the largest legal offer
    auto sealed = seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1);
    REQUIRE(sealed);
    auto opened = open_offer(sealed->value, relay.inbox, relay.node.public_key(), 1);
    REQUIRE(opened);
    CHECK(opened->offer.candidates.size() == 8);

    offer.candidates.assign(9, ep("192.0.2.1:1"));
    CHECK_FALSE(seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1));
    offer.candidates = {Endpoint{}};
    CHECK_FALSE(seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1));
    offer.candidates.clear();
    offer.vpn = Endpoint{};
    CHECK_FALSE(seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1));
    offer.vpn = ep("198.51.100.1:51820");
    CHECK_FALSE(seal_offer(offer, ByteArray<32>{}, relay.node.public_key(), 1));  // low-order inbox key
    CHECK(seal_offer(offer, relay.inbox.pub, relay.node.public_key(), 1));  // no candidates is legal

    auto akm = sealed->answer_key_material;
    Answer a = sample_answer(offer);
    a.candidates.assign(9, ep("192.0.2.1:1"));
    CHECK(seal_answer(a, offer.client_share, akm).empty());
    a.candidates.assign(8, ep("[2001:db8::1]:1"));
    CHECK(seal_answer(a, offer.client_share, akm).size() == kRendezvousValueSize);

    Answer r;
    r.accepted = false;
    r.refuse_code = kRefuseCapacity;
    r.timestamp_ms = kRendezvousMinTimestampMs;
    r.refuse_reason = std::string(64, 'x');
    auto value = seal_answer(r, client_eph.pub, akm);
    REQUIRE(value.size() == kRendezvousValueSize);
    auto got = open_answer(value, client_eph, akm);
    REQUIRE(got);
    CHECK(got->refuse_reason == r.refuse_reason);
    r.refuse_reason = std::string(65, 'x');
    CHECK(seal_answer(r, client_eph.pub, akm).empty());
    r.refuse_reason = "bad\nline";
    CHECK(seal_answer(r, client_eph.pub, akm).empty());
    r.refuse_reason = "ok";
    CHECK(seal_answer(r, client_eph.pub, Bytes(31, 1)).empty());
    CHECK(seal_answer(r, ByteArray<32>{}, akm).empty());
    Answer contradictory;
    contradictory.accepted = true;
    contradictory.refuse_code = 1;
    CHECK(seal_answer(contradictory, client_eph.pub, akm).empty());
}

TEST_CASE("rendezvous: all values have one size whatever they carry") {
    Relay relay;
    auto client_eph = X25519Key::generate();
    Offer small;
    small.client_share = client_eph.pub;
    small.vpn = ep("192.0.2.1:1");
    small.timestamp_ms = kRendezvousMinTimestampMs;
    auto big = sample_offer(client_eph);
    big.candidates.assign(8, ep("[2001:db8::1]:65535"));
    big.vpn = ep("[2001:db8::2]:51820");
    auto s1 = seal_offer(small, relay.inbox.pub, relay.node.public_key(), 1);
    auto s2 = seal_offer(big, relay.inbox.pub, relay.node.public_key(), 1);
    REQUIRE(s1);
    REQUIRE(s2);
    Answer refuse;
    refuse.refuse_code = kRefuseInternal;
    refuse.timestamp_ms = kRendezvousMaxTimestampMs;
    auto a1 = seal_answer(refuse, client_eph.pub, s1->answer_key_material);
    auto a2 = seal_answer(sample_answer(big), client_eph.pub, s2->answer_key_material);
    CHECK(s1->value.size() == kRendezvousValueSize);
    CHECK(s2->value.size() == kRendezvousValueSize);
    CHECK(a1.size() == kRendezvousValueSize);
    CHECK(a2.size() == kRendezvousValueSize);
    CHECK(kRendezvousValueSize == 512);
}

TEST_CASE("rendezvous: plaintext decoders are strict") {
    auto client_eph = X25519Key::generate();
    auto offer = sample_offer(client_eph);
    auto pt = encode_offer_plaintext(offer);
    REQUIRE(pt);
    auto back = decode_offer_plaintext(*pt);
    REQUIRE(back);
    check_same(*back, offer);

    // Wrong size.
    CHECK_FALSE(decode_offer_plaintext(ByteView(pt->data(), pt->size() - 1)));
    Bytes longer(pt->begin(), pt->end());
    longer.push_back(0);
    CHECK_FALSE(decode_offer_plaintext(longer));
    CHECK_FALSE(decode_offer_plaintext({}));
    // Version, kind, padding.
    auto bad = *pt;
    bad[0] = 2;
    CHECK_FALSE(decode_offer_plaintext(bad));
    bad = *pt;
    bad[1] = 2;
    CHECK_FALSE(decode_offer_plaintext(bad));
    CHECK_FALSE(decode_answer_plaintext(*pt));
    bad = *pt;
    bad.back() = 1;
    CHECK_FALSE(decode_offer_plaintext(bad));
    // Layout: version, kind, session id (16), share (32), timestamp (8), then the vpn endpoint.
    const size_t vpn_at = 2 + 16 + 32 + 8;
    bad = *pt;
    bad[vpn_at] = 5;  // unknown address family
    CHECK_FALSE(decode_offer_plaintext(bad));
    const size_t count_at = vpn_at + 1 + 4 + 2;
    bad = *pt;
    bad[count_at] = 9;  // too many candidates
    CHECK_FALSE(decode_offer_plaintext(bad));
    bad[count_at] = 255;
    CHECK_FALSE(decode_offer_plaintext(bad));
    bad = *pt;
    bad[count_at] = 4;  // claims one more candidate than present: the zero padding is no endpoint
    CHECK_FALSE(decode_offer_plaintext(bad));

    // IPv4-mapped IPv6 has one encoding only (as IPv4).
    bad = *pt;
    const uint8_t mapped[19] = {6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1, 0xca, 0x6c};
    Bytes rewritten(bad.begin(), bad.begin() + long(vpn_at));
    rewritten.insert(rewritten.end(), mapped, mapped + 19);
    rewritten.insert(rewritten.end(), bad.begin() + long(vpn_at + 7), bad.end() - 12);
    REQUIRE(rewritten.size() == kRendezvousPlaintextSize);
    CHECK_FALSE(decode_offer_plaintext(rewritten));
    rewritten[vpn_at + 11] = 0xfe;  // the same bytes as a plain IPv6 address decode fine
    auto v6 = decode_offer_plaintext(rewritten);
    REQUIRE(v6);
    CHECK(v6->vpn.family() == AF_INET6);
    CHECK(v6->vpn.port() == 51820);
    CHECK(v6->candidates == offer.candidates);

    // Answers.
    Answer a;
    a.accepted = false;
    a.refuse_code = 2;
    a.refuse_reason = "no";
    a.timestamp_ms = 1'700'000'000'000ULL;
    auto apt = encode_answer_plaintext(a);
    REQUIRE(apt);
    auto aback = decode_answer_plaintext(*apt);
    REQUIRE(aback);
    check_same(*aback, a);
    CHECK_FALSE(decode_offer_plaintext(*apt));
    const size_t accepted_at = 2 + 16;
    auto abad = *apt;
    abad[accepted_at] = 2;
    CHECK_FALSE(decode_answer_plaintext(abad));
    abad[accepted_at] = 1;  // accepted with a refusal code and reason
    CHECK_FALSE(decode_answer_plaintext(abad));
    const size_t reason_len_at = accepted_at + 1 + 1 + 32 + 8;
    abad = *apt;
    abad[reason_len_at] = 65;
    CHECK_FALSE(decode_answer_plaintext(abad));
    abad = *apt;
    abad[reason_len_at + 1] = 0x07;  // control character in the reason
    CHECK_FALSE(decode_answer_plaintext(abad));
}

TEST_CASE("rendezvous: the hello id is HKDF-Expand of the key material") {
    Bytes akm(32);
    for (size_t i = 0; i < 32; ++i) akm[i] = uint8_t(i * 3);
    auto key = rendezvous_hello_id(akm);
    const char* label = "pave/v1/hello-id";
    auto expect = hkdf::expand(akm, ByteView(reinterpret_cast<const uint8_t*>(label), std::strlen(label)), 32);
    CHECK(Bytes(key.begin(), key.end()) == Bytes(expect.begin(), expect.begin() + 8));
    akm[0] ^= 1;
    CHECK(rendezvous_hello_id(akm) != key);
}

TEST_CASE("rendezvous: every field at and past its limits") {
    auto client_eph = X25519Key::generate();
    const Offer good = sample_offer(client_eph);
    REQUIRE(encode_offer_plaintext(good));
    auto offer_ok = [&](auto change) {
        Offer o = good;
        change(o);
        return encode_offer_plaintext(o).has_value();
    };
    // timestamps
    CHECK(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMinTimestampMs; }));
    CHECK(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMaxTimestampMs; }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMinTimestampMs - 1; }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMaxTimestampMs + 1; }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.timestamp_ms = 0; }));
    // Whole seconds only: milliseconds would tell the relay the client's clock skew.
    CHECK_FALSE(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMinTimestampMs + 1; }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMinTimestampMs + 999; }));
    CHECK(offer_ok([](Offer& o) { o.timestamp_ms = kRendezvousMinTimestampMs + 1000; }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.timestamp_ms = UINT64_MAX; }));
    // ports and addresses
    CHECK_FALSE(offer_ok([](Offer& o) { o.vpn = ep("198.51.100.1:0"); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.vpn = ep("0.0.0.0:51820"); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.vpn = ep("[::]:51820"); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.vpn = ep("224.0.0.1:51820"); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.vpn = ep("255.255.255.255:51820"); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.vpn = ep("[ff02::1]:51820"); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.candidates.push_back(ep("192.0.2.1:0")); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.candidates.push_back(ep("239.1.2.3:5")); }));
    CHECK(offer_ok([](Offer& o) { o.candidates.push_back(ep("192.0.2.1:1")); }));
    CHECK(offer_ok([](Offer& o) { o.candidates.push_back(ep("127.0.0.1:65535")); }));  // policy is the reader's
    // counts
    CHECK(offer_ok([](Offer& o) { o.candidates.assign(kRendezvousMaxCandidates, ep("192.0.2.1:1")); }));
    CHECK_FALSE(offer_ok([](Offer& o) { o.candidates.assign(kRendezvousMaxCandidates + 1, ep("192.0.2.1:1")); }));

    // The decoder refuses what the encoder refuses: patch a valid plaintext.
    auto pt = *encode_offer_plaintext(good);
    const size_t ts_at = 2 + 16 + 32;
    auto bad = pt;
    for (size_t i = 0; i < 8; ++i) bad[ts_at + i] = 0;
    CHECK_FALSE(decode_offer_plaintext(bad));
    bad = pt;
    const size_t vpn_port_at = ts_at + 8 + 1 + 4;  // IPv4 VPN endpoint: family, 4 bytes, port
    bad[vpn_port_at] = bad[vpn_port_at + 1] = 0;
    CHECK_FALSE(decode_offer_plaintext(bad));
    bad = pt;
    bad[ts_at + 8 + 1] = 224;  // multicast VPN address
    CHECK_FALSE(decode_offer_plaintext(bad));
    bad = pt;
    bad[ts_at + 8] = 5;  // unknown address family
    CHECK_FALSE(decode_offer_plaintext(bad));

    // Answers: refusal codes, candidates per outcome, key share of a refusal.
    const Answer yes = sample_answer(good);
    auto answer_ok = [&](const Answer& base, auto change) {
        Answer a = base;
        change(a);
        auto p = encode_answer_plaintext(a);
        return p.has_value();
    };
    Answer no;
    no.session_id = good.session_id;
    no.timestamp_ms = kRendezvousMinTimestampMs;
    no.refuse_code = kRefuseFirst;
    REQUIRE(answer_ok(no, [](Answer&) {}));
    CHECK(answer_ok(no, [](Answer& a) { a.refuse_code = kRefuseLast; }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.refuse_code = 0; }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.refuse_code = kRefuseLast + 1; }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.refuse_code = 255; }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.candidates = {ep("192.0.2.1:1")}; }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.relay_share.fill(1); }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.timestamp_ms = 0; }));
    CHECK_FALSE(answer_ok(no, [](Answer& a) { a.timestamp_ms = kRendezvousMinTimestampMs + 500; }));
    CHECK(answer_ok(yes, [](Answer&) {}));
    CHECK_FALSE(answer_ok(yes, [](Answer& a) { a.candidates.clear(); }));  // nothing to punch to
    CHECK_FALSE(answer_ok(yes, [](Answer& a) { a.candidates = {ep("203.0.113.5:0")}; }));
    CHECK_FALSE(answer_ok(yes, [](Answer& a) { a.candidates = {ep("[::]:5")}; }));
    CHECK_FALSE(answer_ok(yes, [](Answer& a) { a.refuse_code = 1; }));
    CHECK_FALSE(answer_ok(yes, [](Answer& a) { a.timestamp_ms = kRendezvousMaxTimestampMs + 1; }));
    auto apt = *encode_answer_plaintext(no);
    const size_t code_at = 2 + 16 + 1;
    apt[code_at] = kRefuseLast + 1;
    CHECK_FALSE(decode_answer_plaintext(apt));
    apt[code_at] = 0;
    CHECK_FALSE(decode_answer_plaintext(apt));
    apt[code_at] = kRefuseLast;
    CHECK(decode_answer_plaintext(apt));
    apt[code_at + 1] = 1;  // a key share in a refusal
    CHECK_FALSE(decode_answer_plaintext(apt));
}

TEST_CASE("rendezvous: timestamp freshness is symmetric and bounded") {
    const uint64_t now = 1'750'000'000'000ULL;
    CHECK(rendezvous_timestamp_fresh(now, now));
    CHECK(rendezvous_timestamp_fresh(now - kRendezvousClockSkewMs, now));
    CHECK(rendezvous_timestamp_fresh(now + kRendezvousClockSkewMs, now));
    CHECK_FALSE(rendezvous_timestamp_fresh(now - kRendezvousClockSkewMs - 1, now));
    CHECK_FALSE(rendezvous_timestamp_fresh(now + kRendezvousClockSkewMs + 1, now));
    CHECK_FALSE(rendezvous_timestamp_fresh(0, now));
    CHECK_FALSE(rendezvous_timestamp_fresh(UINT64_MAX, now));
}
