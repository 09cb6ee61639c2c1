#include <doctest/doctest.h>

#include "crypto/hex.h"
#include "dht/directory_reads.h"
#include "dht/guard_set.h"

#include <set>

using namespace pave;

namespace {

RelayInfo relay(uint8_t n, uint64_t first_seen) {
    RelayInfo r;
    r.node_pub[0] = n;
    r.node_pub[31] = 0x5a;
    r.first_seen = first_seen;
    r.expires = 1'000'000;
    return r;
}

Endpoint ep(const std::string& s) { return *Endpoint::parse(s); }

}  // namespace

TEST_CASE("guard set: only relays known for min_age become guards, at random, up to the size") {
    GuardSet::Params p;
    p.min_age_s = 600;
    GuardSet gs(p);
    std::vector<RelayInfo> live;
    for (uint8_t i = 0; i < 10; ++i) live.push_back(relay(i, 1000));
    CHECK_FALSE(gs.refill(live, 1500));  // none is 600 s old yet
    CHECK(gs.guards().empty());
    live.push_back(relay(50, 100));
    CHECK(gs.refill(live, 1500));  // only the old one
    REQUIRE(gs.guards().size() == 1);
    CHECK(gs.guards()[0].node_pub == relay(50, 0).node_pub);
    CHECK(gs.refill(live, 1600));
    CHECK(gs.guards().size() == 3);
    CHECK_FALSE(gs.refill(live, 1700));  // full: unchanged
    // Every relay is chosen sometimes (uniform among the eligible).
    std::map<uint8_t, int> chosen;
    for (int run = 0; run < 400; ++run) {
        GuardSet g2(p);
        g2.refill(live, 5000);
        for (const auto& g : g2.guards()) ++chosen[g.node_pub[0]];
    }
    CHECK(chosen.size() == live.size());
}

TEST_CASE("guard set: repeated failures over three days replace a guard; a success in between forgives") {
    GuardSet gs;
    std::vector<RelayInfo> live = {relay(1, 0), relay(2, 0), relay(3, 0), relay(4, 0)};
    gs.refill(live, 10'000);
    REQUIRE(gs.guards().size() == 3);
    Ed25519Public g = gs.guards()[0].node_pub;
    CHECK_FALSE(gs.on_failed(g, 10'000));
    CHECK_FALSE(gs.on_failed(g, 10'100));
    CHECK_FALSE(gs.on_failed(g, 10'200));  // 3 failures, but within minutes: kept
    CHECK(gs.is_guard(g));
    CHECK_FALSE(gs.on_served(g, ep("198.51.100.7:4500"), 10'300));
    CHECK(gs.guards()[0].failures == 0);
    CHECK_FALSE(gs.on_failed(g, 20'000));
    CHECK_FALSE(gs.on_failed(g, 21'000));
    CHECK_FALSE(gs.on_failed(g, 23'700));  // the third, an hour after the first: kept
    CHECK_FALSE(gs.on_failed(g, 20'000 + 3 * 86'400 - 1));
    CHECK(gs.on_failed(g, 20'000 + 3 * 86'400));  // three days after the first
    CHECK_FALSE(gs.is_guard(g));
    CHECK(gs.replaced() == 1);
    CHECK(gs.refill(live, 23'700));
    CHECK(gs.guards().size() == 3);
    CHECK_FALSE(gs.on_failed(relay(99, 0).node_pub, 30'000));  // not a guard: nothing
}

TEST_CASE("guard set: one guard per /24 or /48; guards end after their lifetime") {
    GuardSet gs;
    std::vector<RelayInfo> live = {relay(1, 0), relay(2, 0), relay(3, 0), relay(4, 0)};
    gs.refill(live, 10'000);
    auto a = gs.guards()[0].node_pub, b = gs.guards()[1].node_pub, c = gs.guards()[2].node_pub;
    CHECK_FALSE(gs.on_served(a, ep("198.51.100.7:4500"), 10'000));
    CHECK(gs.on_served(b, ep("198.51.100.200:4500"), 10'000));  // same /24 as a: dropped
    CHECK_FALSE(gs.is_guard(b));
    CHECK(gs.is_guard(a));
    CHECK_FALSE(gs.on_served(c, ep("[2001:db8:1:2::1]:4500"), 10'000));
    CHECK(diversity_prefix(ep("[2001:db8:1:ffff::9]:1")) == diversity_prefix(ep("[2001:db8:1:2::1]:4500")));
    CHECK(diversity_prefix(ep("[2001:db8:2::1]:1")) != diversity_prefix(ep("[2001:db8:1::1]:1")));
    CHECK(diversity_prefix(ep("198.51.100.1:1")).size() == 3);
    CHECK(diversity_prefix(ep("127.0.0.1:1")).empty());
    CHECK(diversity_prefix(ep("10.1.2.3:1")).empty());
    // Kept for weeks, then replaced.
    gs.refill(live, 10'000);
    CHECK(gs.guards().size() == 3);
    CHECK_FALSE(gs.refill(live, 10'000 + 59 * 86400));
    CHECK(gs.refill({}, 10'000 + 60 * 86400));
    CHECK(gs.guards().empty());
}

TEST_CASE("guard state file: round trip, and every malformed input refused with a reason") {
    GuardState st;
    Guard g;
    g.node_pub[0] = 7;
    g.added_s = 1'700'000'000;
    g.failures = 2;
    g.first_failure_s = 1'700'000'500;
    g.prefix = {198, 51, 100};
    st.guards.push_back(g);
    Guard h;
    h.node_pub[0] = 8;
    st.guards.push_back(h);
    st.first_seen[g.node_pub] = 1'699'000'000;
    st.replica_seed = ByteArray<16>{};
    (*st.replica_seed)[3] = 0x42;
    std::string text = encode_guard_state(st);
    auto back = decode_guard_state(text);
    REQUIRE(back);
    REQUIRE(back->guards.size() == 2);
    CHECK(back->guards[0].node_pub == g.node_pub);
    CHECK(back->guards[0].added_s == g.added_s);
    CHECK(back->guards[0].failures == 2);
    CHECK(back->guards[0].first_failure_s == g.first_failure_s);
    CHECK(back->guards[0].prefix == g.prefix);
    CHECK(back->guards[1].prefix.empty());
    CHECK(back->first_seen.at(g.node_pub) == 1'699'000'000);
    CHECK(back->replica_seed == st.replica_seed);
    // The seed and the network fix the replica each bucket is read at; another seed spreads
    // clients over them, and so does another network for one seed (no pseudonym across networks).
    DirectoryReads a(DirectoryReads::Params{}, st.replica_seed), b(DirectoryReads::Params{}, st.replica_seed);
    const Bytes home{198, 51, 100}, office{203, 0, 113};
    a.set_network(home);
    b.set_network(home);
    std::set<unsigned> replicas_of_bucket0;
    for (unsigned k = 0; k < kRelayBuckets; ++k) CHECK(a.replica_of(k) == b.replica_of(k));
    for (int i = 0; i < 64; ++i) {
        DirectoryReads c;
        c.set_network(home);
        replicas_of_bucket0.insert(c.replica_of(0));
    }
    CHECK(replicas_of_bucket0.size() == kBucketReplicas);
    std::vector<unsigned> at_home, at_office;
    for (int n = 0; n < 4; ++n) {  // 4 x 8 buckets: the vectors differ unless 32 draws of 1/8 all agree
        b.set_network(office);
        for (unsigned k = 0; k < kRelayBuckets; ++k) {
            at_home.push_back(a.replica_of(k));
            at_office.push_back(b.replica_of(k));
        }
        b.set_network(Bytes{203, 0, uint8_t(114 + n)});
    }
    CHECK(at_home != at_office);
    // Before the public address is known, reads take a fresh replica each time.
    std::set<unsigned> unset;
    DirectoryReads d(DirectoryReads::Params{}, st.replica_seed);
    for (int i = 0; i < 64; ++i) unset.insert(d.replica_of(0));
    CHECK(unset.size() > 1);

    const std::string key(64, 'a');
    struct Bad {
        std::string text, why;
    } bad[] = {
        {"", "empty file"},
        {"pave-guards 2\n", "not a guard state file"},
        {"pave-guards 1\nguard " + key + " 1 0 0\n", "6 fields"},
        {"pave-guards 1\nguard " + key.substr(2) + " 1 0 0 -\n", "bad node key"},
        {"pave-guards 1\nguard " + std::string(64, 'z') + " 1 0 0 -\n", "bad node key"},
        {"pave-guards 1\nguard " + key + " 99999999999999999999 0 0 -\n", "bad time added"},
        {"pave-guards 1\nguard " + key + " -1 0 0 -\n", "bad time added"},
        {"pave-guards 1\nguard " + key + " 1 1001 0 -\n", "bad failure count"},
        {"pave-guards 1\nguard " + key + " 1 0 0 c612\n", "bad address prefix"},
        {"pave-guards 1\nguard " + key + " 1 0 0 -\nguard " + key + " 1 0 0 -\n", "a guard twice"},
        {"pave-guards 1\nseen " + key + "\n", "3 fields"},
        {"pave-guards 1\nwhat\n", "unknown record"},
        {"pave-guards 1\nreplica-seed 00\n", "bad replica seed"},
        {"pave-guards 1\nreplica-seed " + std::string(32, 'a') + "\nreplica-seed " + std::string(32, 'a') + "\n", "twice"},
        {"pave-guards 1\n" + std::string(300, 'x') + "\n", "line too long"},
        {std::string(kMaxGuardStateBytes + 1, '\n'), "too large"},
    };
    for (const auto& b : bad) {
        std::string why;
        CHECK_FALSE(decode_guard_state(b.text, &why));
        CHECK_MESSAGE(why.find(b.why) != std::string::npos, b.text.substr(0, 80) << " -> " << why);
    }
    std::string many = "pave-guards 1\n";
    for (int i = 0; i <= int(kMaxGuardLines); ++i) {
        Ed25519Public k{};
        k[0] = uint8_t(i);
        many += "guard " + to_hex(k) + " 1 0 0 -\n";
    }
    std::string why;
    CHECK_FALSE(decode_guard_state(many, &why));
    CHECK(why.find("too many guards") != std::string::npos);
}
