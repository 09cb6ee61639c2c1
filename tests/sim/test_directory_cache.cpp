// The directory cache in the state dir (dht/directory_cache.h): a client started again with the
// file its previous run saved sends its first offers before any DHT read returns; records that
// have expired since are dropped and the client reads the DHT as a fresh one does.
#include <doctest/doctest.h>

#include "tests/sim/swarm.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

// From start to the first offer put, and whether it connected.
std::chrono::milliseconds first_offer_after(Swarm& s, SimClient& c) {
    const auto t0 = s.now().mono;
    REQUIRE(s.run_until([&] { return c.engine().offers_waiting() > 0 || c.engine().session(); }, 20s));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(s.now().mono - t0);
    REQUIRE(s.run_until([&] { return c.step() == Step::connected || c.step() == Step::failed; }, 30s));
    CHECK(c.step() == Step::connected);
    return took;
}

}  // namespace

TEST_CASE("directory cache: a restart sends its first offer before any DHT read returns; expired records are dropped") {
    // A slow DHT: a get's values arrive 400 ms after it is made.
    Swarm s(51, DhtParams{20ms, 400ms, 0ms, 0.0, 0.0});
    s.add_vpn();
    RelayEngineConfig rc;
    rc.presence_ttl_s = 30;  // records live 30 s (periods of 30 s)
    for (int i = 0; i < 3; ++i) s.add_relay(rc);
    s.run_for(2s);

    SimClient& first = s.add_client({});
    first.start();
    const auto fresh = first_offer_after(s, first);
    const std::string cache = first.directory_cache();
    REQUIRE(!cache.empty());
    auto records = decode_directory_cache(cache);
    REQUIRE(records);
    CHECK(records->size() == 3);
    s.run_for(2s);
    first.close();
    CHECK(first.engine().counters().directory_cached == 0);

    ClientEngineConfig cfg;
    cfg.directory_cache = cache;
    SimClient& again = s.add_client(cfg);
    again.start();
    const auto cached = first_offer_after(s, again);
    CHECK(again.engine().counters().directory_cached == 3);
    CHECK(again.saw_event("3 relay(s) from the directory cache"));
    MESSAGE("first offer after start: fresh state " << fresh.count() << " ms, with the directory cache "
                                                    << cached.count() << " ms (DHT reads answer after 400 ms)");
    CHECK(fresh >= 400ms);
    CHECK(cached < 100ms);
    again.close();

    // Two minutes later every cached record has expired: none is used, the DHT is read.
    s.run_for(120s);
    SimClient& late = s.add_client(cfg);
    late.start();
    const auto stale = first_offer_after(s, late);
    CHECK(late.engine().counters().directory_cached == 0);
    CHECK(!late.saw_event("from the directory cache"));
    CHECK(stale >= 400ms);

    // A damaged file is refused whole, with the reason; the client reads the DHT.
    ClientEngineConfig bad;
    bad.directory_cache = "pave-directory 1\nrecord 9 00\n";
    SimClient& damaged = s.add_client(bad);
    damaged.start();
    first_offer_after(s, damaged);
    CHECK(damaged.saw_event("directory cache not used (line 2: bad bucket)"));
}
