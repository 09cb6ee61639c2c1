// The simulated DHT: put and listen with delays, loss, expiry and cancellation.
#include <doctest/doctest.h>

#include <vector>

#include "tests/sim/sim_dht.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;

namespace {

struct Got {
    std::vector<Bytes> values;
    std::vector<int64_t> at_ms;
    int expired = 0;
};

struct DhtWorld {
    VirtualClock clock;
    EventQueue q{clock};
    SimRandom rng{3};
    SimDht dht{q, rng};
    TimePoint t0 = q.now();
    DhtKey k1 = dht_key_of("one"), k2 = dht_key_of("two");

    SimDht::Listener into(Got& g) {
        return [this, &g](SimDht::Token, const DhtKey&, const std::vector<Bytes>& vs, bool expired) {
            for (const auto& v : vs) {
                if (expired) {
                    ++g.expired;
                } else {
                    g.values.push_back(v);
                    g.at_ms.push_back((q.now() - t0) / 1ms);
                }
            }
        };
    }
};

}  // namespace

TEST_CASE("sim DHT: a listener gets the values already there at listen time, and new ones later") {
    DhtWorld w;
    w.dht.params().put_delay = 100ms;
    w.dht.params().delivery_delay = 40ms;
    w.dht.put(w.k1, {1});
    w.dht.put(w.k2, {2});
    w.q.run_for(200ms);
    CHECK(w.dht.values_at(w.k1) == 1);
    Got g;
    w.dht.listen(w.k1, w.into(g));
    w.q.run_for(39ms);
    CHECK(g.values.empty());  // the delivery delay
    w.q.run_for(1ms);
    REQUIRE(g.values.size() == 1);
    CHECK(g.values[0] == Bytes{1});
    CHECK(g.at_ms[0] == 240);
    w.dht.put(w.k1, {3});  // stored at +100 ms, delivered at +140 ms
    w.q.run_for(1s);
    REQUIRE(g.values.size() == 2);
    CHECK(g.values[1] == Bytes{3});
    CHECK(g.at_ms[1] == 380);
}

TEST_CASE("sim DHT: cancel stops deliveries, even one already on its way") {
    DhtWorld w;
    Got g;
    auto t = w.dht.listen(w.k1, w.into(g));
    w.dht.put(w.k1, {1});
    w.q.run_for(60ms);  // stored at 50 ms, delivery due at 100 ms
    w.dht.cancel(t);
    w.q.run_for(1s);
    CHECK(g.values.empty());
    CHECK(w.dht.listeners() == 0);
}

TEST_CASE("sim DHT: values expire after their lifetime and listeners hear of it") {
    DhtWorld w;
    w.dht.params().value_ttl = 10s;
    Got g;
    w.dht.listen(w.k1, w.into(g));
    w.dht.put(w.k1, {1});
    w.q.run_for(5s);
    w.dht.put(w.k1, {2});
    w.q.run_for(6s);  // the first has expired, the second not
    CHECK(w.dht.values_at(w.k1) == 1);
    CHECK(g.expired == 1);
    Got late;
    w.dht.listen(w.k1, w.into(late));
    w.q.run_for(1s);
    REQUIRE(late.values.size() == 1);
    CHECK(late.values[0] == Bytes{2});
    w.q.run_for(10s);
    CHECK(w.dht.values_at(w.k1) == 0);
    CHECK(w.dht.expired() == 2);
}

TEST_CASE("sim DHT: put and delivery loss, repeatable per seed") {
    auto run = [](uint64_t seed) {
        VirtualClock clock;
        EventQueue q(clock);
        SimRandom rng(seed);
        SimDht dht(q, rng);
        dht.params().put_loss = 0.2;
        dht.params().delivery_loss = 0.5;
        dht.params().jitter = 100ms;
        DhtKey k = dht_key_of("k");
        size_t got = 0;
        dht.listen(k, [&](SimDht::Token, const DhtKey&, const std::vector<Bytes>& vs, bool expired) {
            if (!expired) got += vs.size();
        });
        for (int i = 0; i < 1000; ++i) dht.put(k, {uint8_t(i)});
        q.run_for(1s);
        CHECK(dht.puts_lost() + dht.values_at(k) == 1000);
        CHECK(dht.deliveries() + dht.deliveries_lost() == dht.values_at(k));
        return got;
    };
    size_t a = run(9);
    CHECK(a == run(9));
    CHECK(a > 340);  // 1000 x 0.8 x 0.5 = 400
    CHECK(a < 460);
}
