// The relay's intake and slot decisions, in memory.
#include <doctest/doctest.h>

#include <string>

#include "relay/session_admission.h"

using namespace pave;

namespace {

Endpoint ep(const std::string& text) { return Endpoint::parse(text).value(); }

constexpr uint64_t kNow = 1'700'000'000'000;
const std::vector<Endpoint> kOwn = {ep("203.0.113.20:4500"), ep("10.2.0.2:4500"), ep("[2001:db8:20::5]:4500")};
const std::vector<Endpoint> kBound = {ep("10.2.0.2:4500")};

uint8_t g_next_id = 0;

Offer offer(std::vector<Endpoint> cands, std::string vpn = "203.0.113.30:51820") {
    Offer o;
    o.session_id[0] = ++g_next_id;
    o.session_id[1] = uint8_t(g_next_id >> 8);
    o.candidates = std::move(cands);
    o.vpn = ep(vpn);
    o.timestamp_ms = kNow;
    return o;
}

SessionAdmission::ConnId id(int n) {
    SessionAdmission::ConnId c{};
    c[0] = uint8_t(n);
    c[1] = uint8_t(n >> 8);
    return c;
}

}  // namespace

TEST_CASE("admission: skew and replay are dropped without an answer") {
    SessionAdmission a({});
    Offer o = offer({ep("198.51.100.7:4600")});
    o.timestamp_ms = kNow - 61000;
    CHECK(a.check_offer(o, kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::stale);
    o.timestamp_ms = kNow + 59000;
    CHECK(a.check_offer(o, kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::accepted);
    CHECK(a.check_offer(o, kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::replayed);
    a.prune(kNow + 119000);
    CHECK(a.check_offer(o, kNow + 1000, kOwn, kBound).verdict == SessionAdmission::Verdict::replayed);
    a.prune(kNow + 121000);
    CHECK(a.check_offer(o, kNow + 1000, kOwn, kBound).verdict == SessionAdmission::Verdict::accepted);
}

TEST_CASE("admission: the replay table is bounded and refuses rather than forgets") {
    AdmissionLimits l;
    l.seen_max = 3;
    SessionAdmission a(l);
    for (int i = 0; i < 3; ++i)
        CHECK(a.check_offer(offer({ep("198.51.100.7:4600")}), kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::accepted);
    CHECK(a.check_offer(offer({ep("198.51.100.7:4600")}), kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::seen_full);
}

TEST_CASE("admission: candidates under the endpoint policy") {
    SessionAdmission a({});
    // Finding: one offer aimed the relay at loopback, private and its own addresses.
    auto d = a.check_offer(offer({ep("127.0.0.1:22"), ep("10.0.0.1:53"), ep("192.168.1.1:80"), ep("169.254.169.254:80"),
                                  ep("224.0.0.1:9"), ep("203.0.113.20:22"), ep("[2001:db8:20::99]:22"), ep("100.64.0.1:1")}),
                           kNow, kOwn, kBound);
    CHECK(d.verdict == SessionAdmission::Verdict::refused);
    CHECK(d.refuse_code == kRefuseNoCandidates);
    CHECK(d.candidates_refused == 8);
    CHECK(d.reason.find("no usable address candidate") != std::string::npos);
    MESSAGE("eight hostile candidates: " << d.reason);
    // The bad ones are dropped, the good ones kept (once each).
    d = a.check_offer(offer({ep("127.0.0.1:22"), ep("198.51.100.7:4600"), ep("198.51.100.7:4600"), ep("10.1.0.2:4600")}),
                      kNow, kOwn, kBound);
    CHECK(d.verdict == SessionAdmission::Verdict::accepted);
    REQUIRE(d.candidates.size() == 1);
    CHECK(d.candidates[0] == ep("198.51.100.7:4600"));
    CHECK(d.candidates_refused == 2);
    // An offer with no candidates at all.
    d = a.check_offer(offer({}), kNow, kOwn, kBound);
    CHECK(d.refuse_code == kRefuseNoCandidates);
}

TEST_CASE("admission: private candidates when allowed; the relay's own socket never") {
    AdmissionLimits l;
    l.allow_private_candidates = true;
    SessionAdmission a(l);
    auto d = a.check_offer(offer({ep("10.2.0.2:4500"), ep("10.2.0.2:4600"), ep("127.0.0.1:4600"), ep("224.0.0.1:9")}),
                           kNow, kOwn, kBound);
    CHECK(d.verdict == SessionAdmission::Verdict::accepted);
    CHECK(d.candidates == std::vector<Endpoint>{ep("10.2.0.2:4600"), ep("127.0.0.1:4600")});
    CHECK(d.candidates_refused == 2);
}

TEST_CASE("admission: the VPN endpoint is checked first, with its reason") {
    SessionAdmission a({});
    auto d = a.check_offer(offer({ep("198.51.100.7:4600")}, "127.0.0.1:51820"), kNow, kOwn, kBound);
    CHECK(d.refuse_code == kRefuseEndpoint);
    d = a.check_offer(offer({ep("198.51.100.7:4600")}, "[2001:db8:20::1234]:51820"), kNow, kOwn, kBound);
    CHECK(d.refuse_code == kRefuseEndpoint);  // the relay's own /64
    CHECK(d.reason.find("own") != std::string::npos);
}

TEST_CASE("admission: unvalidated sessions have their own budget; silent ones go first") {
    AdmissionLimits l;
    l.capacity = 2;
    l.pending = 4;
    SessionAdmission a(l);
    // An attacker fills the pending budget with offers whose candidates never answer...
    for (int i = 1; i <= 4; ++i) CHECK(a.open(id(i)).ok);
    CHECK(a.pending() == 4);
    // ... a real client arrives and is heard from.
    auto s = a.open(id(100));
    CHECK(s.ok);
    CHECK(s.evicted == id(1));  // the oldest silent one made room
    a.heard(id(100));
    // The flood goes on: the heard client keeps its slot while the silent ones rotate.
    for (int i = 5; i <= 40; ++i) {
        auto e = a.open(id(i));
        CHECK(e.ok);
        REQUIRE(e.evicted.has_value());
        CHECK(*e.evicted != id(100));
    }
    CHECK(a.validated(id(100), ep("198.51.100.7:4600")).ok);
    CHECK(a.established() == 1);
    CHECK(a.pending() == 3);
    CHECK(a.evictions() == 37);
    // A failed punch returns its slot at once.
    a.remove(id(40));
    CHECK(a.pending() == 2);
}

TEST_CASE("admission: when every pending session was heard, the oldest gives way") {
    AdmissionLimits l;
    l.pending = 2;
    SessionAdmission a(l);
    CHECK(a.open(id(1)).ok);
    CHECK(a.open(id(2)).ok);
    a.heard(id(1));
    a.heard(id(2));
    auto s = a.open(id(3));
    CHECK(s.ok);
    CHECK(s.evicted == id(1));
    CHECK_FALSE(a.open(id(3)).ok);  // already there
}

TEST_CASE("admission: established sessions are never evicted; the newcomer is refused") {
    AdmissionLimits l;
    l.capacity = 3;
    l.per_client = 2;
    SessionAdmission a(l);
    const Endpoint cgnat1 = ep("198.51.100.7:4600"), cgnat2 = ep("198.51.100.7:4601"), cgnat3 = ep("198.51.100.7:4602");
    for (int i = 1; i <= 3; ++i) CHECK(a.open(id(i)).ok);
    CHECK(a.validated(id(1), cgnat1).ok);
    CHECK(a.validated(id(2), cgnat2).ok);
    // A third client behind the same CGNAT address: refused at validation, the older ones stay.
    auto v = a.validated(id(3), cgnat3);
    CHECK_FALSE(v.ok);
    CHECK(v.refuse_code == kRefuseAddressLimit);
    CHECK(a.established() == 2);
    CHECK(a.established_from(cgnat1) == 2);
    CHECK(a.refused_at_validation() == 1);
    // ... and at intake when the offer names only that address.
    auto d = a.check_offer(offer({cgnat3}), kNow, kOwn, kBound);
    CHECK(d.verdict == SessionAdmission::Verdict::refused);
    CHECK(d.refuse_code == kRefuseAddressLimit);
    // An offer that also names another address still gets its chance.
    CHECK(a.check_offer(offer({cgnat3, ep("192.0.2.77:4600")}), kNow, kOwn, kBound).verdict ==
          SessionAdmission::Verdict::accepted);
    // IPv6: per /64.
    CHECK(a.open(id(4)).ok);
    CHECK(a.validated(id(4), ep("[2001:db8:7::1]:1")).ok);
    CHECK(a.established() == 3);
    // Full: intake refuses with the capacity code; a session validating now is refused too.
    CHECK(a.check_offer(offer({ep("192.0.2.78:4600")}), kNow, kOwn, kBound).refuse_code == kRefuseCapacity);
    CHECK(a.open(id(5)).ok);
    CHECK(a.validated(id(5), ep("192.0.2.78:4600")).refuse_code == kRefuseCapacity);
    // A session ends: its slot is free, and its address group counts one less.
    a.remove(id(1));
    CHECK(a.established_from(cgnat1) == 1);
    CHECK(a.check_offer(offer({cgnat3}), kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::accepted);
}

TEST_CASE("admission: every refusal code it gives fits in a sealed answer") {
    Bytes material(kAnswerKeyMaterialSize, 7);
    auto client = X25519Key::generate();
    for (uint8_t code : {kRefuseEndpoint, kRefuseCapacity, kRefuseNoCandidates, kRefuseInternal, kRefuseAddressLimit}) {
        Answer a;
        a.session_id[0] = code;
        a.refuse_code = code;
        a.refuse_reason = "too many sessions from this address";
        a.timestamp_ms = kNow;
        Bytes v = seal_answer(a, client.pub, material);
        REQUIRE_MESSAGE(v.size() == kRendezvousValueSize, int(code));
        auto opened = open_answer(v, client, material);
        REQUIRE(opened.has_value());
        CHECK(opened->refuse_code == code);
    }
}

TEST_CASE("admission: only a pending session can validate") {
    SessionAdmission a({});
    auto v = a.validated(id(9), ep("198.51.100.7:4600"));
    CHECK_FALSE(v.ok);
    CHECK(a.established() == 0);
    AdmissionLimits l;
    l.pending = 1;
    SessionAdmission b(l);
    CHECK(b.open(id(1)).ok);
    CHECK(b.open(id(2)).evicted == id(1));
    CHECK_FALSE(b.validated(id(1), ep("198.51.100.7:4600")).ok);  // evicted: no slot
    CHECK(b.validated(id(2), ep("198.51.100.7:4600")).ok);
}

TEST_CASE("admission: pending sessions never lock an address out at intake") {
    // Anyone holding session keys can make pending sessions hear an authenticated frame "from" a
    // victim's address (one spoofed datagram each); only established sessions count at intake.
    AdmissionLimits l;
    l.per_client = 2;
    SessionAdmission a(l);
    const Endpoint victim = ep("198.51.100.9:4600");
    for (int i = 1; i <= 8; ++i) {
        REQUIRE(a.check_offer(offer({victim}), kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::accepted);
        REQUIRE(a.open(id(i)).ok);
        a.heard(id(i));
    }
    CHECK(a.pending() == 8);
    CHECK(a.check_offer(offer({victim}), kNow, kOwn, kBound).verdict == SessionAdmission::Verdict::accepted);
    // The victim's own sessions validate up to the cap; then its address is full at intake.
    CHECK(a.validated(id(1), victim).ok);
    CHECK(a.validated(id(2), ep("198.51.100.9:4601")).ok);
    auto d = a.check_offer(offer({victim}), kNow, kOwn, kBound);
    CHECK(d.verdict == SessionAdmission::Verdict::refused);
    CHECK(d.refuse_code == kRefuseAddressLimit);
}
