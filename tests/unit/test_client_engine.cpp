// The client engine driven in memory: a fake host records what the engine sends and answers
// for a DHT, reflectors and relays (each relay tries every sealed offer put at an inbox shard,
// holds its answer or refusal for the client's hello, and runs its side of the session), with
// time advanced by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519_key.h"
#include "crypto/session_keys.h"
#include "crypto/x25519.h"
#include "dht/bucket_keys.h"
#include "dht/inbox_keys.h"
#include "dht/presence_record.h"
#include "dht/rendezvous_blob.h"
#include "relay/engine/client_engine.h"
#include "relay/wire/rendezvous_frame.h"
#include "relay/wire/stun.h"
#include "relay/wire/wireguard_shape.h"

using namespace pave;
using namespace std::chrono_literals;
using Step = ClientEngine::Step;

namespace {

constexpr uint64_t kT0 = 1750000000;  // unix seconds at the start of every case
constexpr uint32_t kPeriodSecs = 7200;

enum class Mode { accept, silent, full, refuse_endpoint, mute_session, stale, full_at_validation, close_at_validation };

struct FakeRelay {
    Ed25519Key key = Ed25519Key::generate();
    X25519Key inbox = X25519Key::generate();
    Endpoint addr;
    Mode mode = Mode::accept;
    unsigned offers = 0;  // offers it opened
    std::map<HelloId, Bytes> held;  // answer frames waiting for the client's hello
    unsigned hellos = 0, answers_sent = 0;
    std::unique_ptr<Session> session;
    const Ed25519Public& pub() const { return key.public_key(); }
    unsigned bucket() const { return relay_bucket_of(pub()); }
};

Bytes wg_initiation() {
    Bytes b(kWgInitiationSize, 0x42);
    b[0] = 1, b[1] = b[2] = b[3] = 0;
    return b;
}

Bytes wg_response() {
    Bytes b(kWgResponseSize, 0x17);
    b[0] = 2, b[1] = b[2] = b[3] = 0;
    return b;
}

Bytes wg_keepalive() {
    Bytes b(kWgTransportMinSize, 0x33);
    b[0] = 4, b[1] = b[2] = b[3] = 0;
    return b;
}

struct World : ClientEngineHost {
    Endpoint client_pub = *Endpoint::parse("203.0.113.10:40000");
    Endpoint reflector = *Endpoint::parse("198.51.100.7:4222");
    Endpoint vpn = *Endpoint::parse("192.0.2.50:51820");
    Endpoint wg_local = *Endpoint::parse("127.0.0.1:50000");
    std::chrono::steady_clock::time_point mono0 = std::chrono::steady_clock::now();
    EngineTime now{mono0, kT0 * 1000};
    std::vector<std::unique_ptr<FakeRelay>> relays;
    std::map<DhtListenToken, DhtKey> listens;
    DhtListenToken next_token = 100;
    struct Put {
        DhtKey key;
        Bytes value;
    };
    std::deque<Put> puts;
    struct Datagram {
        Endpoint from, to;
        Bytes data;
    };
    std::deque<Datagram> to_relays, to_client;
    std::vector<std::string> events;
    std::vector<EngineEvent::Level> levels;  // of each event
    std::vector<Datagram> wg_to_relay, wg_to_local;
    std::optional<std::string> gave_up_why;
    bool dht_up = true;
    bool reflector_answers = true;
    std::optional<Endpoint> reflect_as;  // what the reflector says our address is (default: client_pub)
    unsigned probes = 0;
    ClientEngine engine;

    explicit World(ClientEngineConfig cfg = config()) : engine(*this, std::move(cfg)) {}

    static ClientEngineConfig config() {
        ClientEngineConfig c;
        c.vpn = *Endpoint::parse("192.0.2.50:51820");
        c.timeout = 20s;
        return c;
    }

    // --- ClientEngineHost ---
    void send(const Endpoint& to, ByteView d) override {
        if (is_rendezvous_frame(d)) ++hellos;
        to_relays.push_back({client_pub, to, Bytes(d.begin(), d.end())});
    }
    unsigned hellos = 0;
    void dht_put(const DhtKey& key, Bytes value) override { puts.push_back({key, std::move(value)}); }
    DhtListenToken dht_listen(const DhtKey& key) override {
        listens[next_token] = key;
        return next_token++;
    }
    // The directory as the DHT stores it (every replica key of a bucket holds the bucket); gets
    // are answered at the next step of the world with what is stored then.
    std::map<DhtKey, std::vector<Bytes>> stored;
    std::vector<std::pair<DhtListenToken, DhtKey>> gets;
    std::vector<DhtKey> keys_read;
    DhtListenToken dht_get(const DhtKey& key) override {
        gets.emplace_back(next_token, key);
        keys_read.push_back(key);
        return next_token++;
    }
    void answer_gets() {
        auto pending = std::move(gets);
        gets.clear();
        for (const auto& [t, k] : pending) {
            if (auto it = stored.find(k); it != stored.end()) engine.on_dht_values(now, k, t, it->second, false);
            engine.on_dht_done(now, k, t, true);
        }
    }
    void dht_cancel_listen(const DhtKey& key, DhtListenToken token) override {
        auto it = listens.find(token);
        REQUIRE(it != listens.end());
        CHECK(it->second == key);
        listens.erase(it);
    }
    void event(const EngineEvent& e) override {
        CHECK(e.topic == "connect");
        events.push_back(e.message);
        levels.push_back(e.level);
    }
    void send_wireguard(const Endpoint& to, ByteView d) override {
        wg_to_relay.push_back({client_pub, to, Bytes(d.begin(), d.end())});
    }
    void send_local(const Endpoint& to, ByteView d) override {
        wg_to_local.push_back({client_pub, to, Bytes(d.begin(), d.end())});
    }
    void send_probe(const Endpoint& to, ByteView d) override {
        CHECK_FALSE(is_rendezvous_frame(d));  // hellos go through send
        ++probes;
        if (!reflector_answers || !(to == reflector)) return;
        Bytes out;
        if (handle_request(d, reflect_as ? *reflect_as : client_pub, out) == StunAction::answer_success)
            to_client.push_back({reflector, client_pub, std::move(out)});
    }
    std::vector<Endpoint> known_nodes(size_t) override { return {reflector}; }
    bool dht_connected() override { return dht_up; }
    std::vector<Endpoint> candidates(const std::optional<Endpoint>& reflexive, size_t) override {
        return {reflexive ? *reflexive : client_pub};
    }
    void gave_up(const std::string& why) override { gave_up_why = why; }

    // --- the world ---
    FakeRelay& add_relay(Mode mode, bool publish = true) {
        auto r = std::make_unique<FakeRelay>();
        r->addr = *Endpoint::parse("198.51.100." + std::to_string(20 + relays.size()) + ":4500");
        r->mode = mode;
        relays.push_back(std::move(r));
        if (publish) publish_relay(*relays.back());
        return *relays.back();
    }
    Bytes record_of(const FakeRelay& r) const {
        PresenceRecord f;
        f.inbox_pub = r.inbox.pub;
        f.period_secs = kPeriodSecs;
        f.period = now.unix_s() / kPeriodSecs;
        f.capacity = 10;
        f.expires = now.unix_s() + 3600;
        f.endpoints = {r.addr};
        return encode_presence(f, r.key);
    }
    void deliver_values(const DhtKey& key, const std::vector<Bytes>& values) {
        std::vector<DhtListenToken> tokens;
        for (const auto& [t, k] : listens)
            if (k == key) tokens.push_back(t);
        for (auto t : tokens) engine.on_dht_values(now, key, t, values, false);
    }
    void publish_relay(const FakeRelay& r) {
        for (unsigned i = 0; i < kBucketReplicas; ++i) stored[relay_directory_key(r.bucket(), i)].push_back(record_of(r));
    }

    // Every relay listens on every inbox shard: each tries the offer, as a real relay does.
    bool relay_takes_offer(FakeRelay& r, const Bytes& value) {
        auto opened = open_offer(value, r.inbox, r.pub(), now.unix_s() / kPeriodSecs);
        if (!opened) return false;
        ++r.offers;
        CHECK(opened->offer.vpn == vpn);
        if (r.mode == Mode::silent) return true;
        Answer a;
        a.session_id = opened->offer.session_id;
        a.timestamp_ms = rendezvous_timestamp_now(r.mode == Mode::stale ? now.unix_ms - 10 * 60 * 1000 : now.unix_ms);
        X25519Key eph = X25519Key::generate();
        if (r.mode == Mode::full) {
            a.refuse_code = kRefuseCapacity;
            a.refuse_reason = "relay at capacity";
        } else if (r.mode == Mode::refuse_endpoint) {
            a.refuse_code = kRefuseEndpoint;
            a.refuse_reason = "VPN endpoint not allowed";
        } else {
            a.accepted = true;
            a.relay_share = eph.pub;
            a.candidates = {r.addr};
            auto ee = x25519_shared(eph.priv, opened->offer.client_share);
            REQUIRE(ee.has_value());
            auto keys = derive_session_keys(opened->answer_key_material, *ee);
            REQUIRE(keys.has_value());
            r.session = std::make_unique<Session>(SessionRole::relay, *keys, opened->offer.candidates, now.mono,
                                                  SessionTimers{}, [this, &r](const Endpoint& to, ByteView d) {
                                                      if (r.mode == Mode::mute_session) return;
                                                      to_client.push_back({r.addr, to, Bytes(d.begin(), d.end())});
                                                  });
        }
        Bytes sealed = seal_answer(a, opened->offer.client_share, opened->answer_key_material);
        REQUIRE(!sealed.empty());
        const HelloId id = rendezvous_hello_id(opened->answer_key_material);
        r.held[id] = make_rendezvous_answer(id, sealed);
        return true;
    }

    void pump() {
        for (int round = 0; round < 8; ++round) {
            bool any = false;
            while (!puts.empty()) {
                Put p = std::move(puts.front());
                puts.pop_front();
                any = true;
                bool shard = false;
                for (unsigned k = 0; k < kInboxShards; ++k)
                    shard = shard || p.key == inbox_shard_key(k, kPeriodSecs, now.unix_s() / kPeriodSecs);
                REQUIRE(shard);  // offers go to an inbox shard, never to a relay- or bucket-specific key
                unsigned takers = 0;
                for (auto& r : relays) takers += relay_takes_offer(*r, p.value);
                CHECK(takers == 1);  // every offer is sealed to exactly one relay
            }
            while (!to_relays.empty()) {
                Datagram d = std::move(to_relays.front());
                to_relays.pop_front();
                any = true;
                for (auto& r : relays) {
                    if (!(d.to == r->addr)) continue;
                    if (auto f = parse_rendezvous_frame(d.data)) {  // a hello: the held answer, to its source
                        ++r->hellos;
                        auto h = r->held.find(f->id);
                        if (f->kind == RendezvousFrame::Kind::hello && h != r->held.end()) {
                            ++r->answers_sent;
                            to_client.push_back({r->addr, d.from, h->second});
                        }
                        continue;
                    }
                    if (r->session) {
                        r->session->on_control(d.data, d.from, now.mono);
                        // A relay that finds itself full (or fails) as the path validates closes
                        // the session with the reason.
                        if (r->session->state() == SessionState::established && r->mode == Mode::full_at_validation)
                            r->session->close(kRefuseCapacity, now.mono);
                        if (r->session->state() == SessionState::established && r->mode == Mode::close_at_validation)
                            r->session->close(kRefuseInternal, now.mono);
                    }
                }
            }
            while (!to_client.empty()) {
                Datagram d = std::move(to_client.front());
                to_client.pop_front();
                any = true;
                if (d.to == client_pub) engine.on_datagram(now, d.from, d.data);
            }
            if (!any) break;
            engine.on_tick(now);
        }
    }
    // Advances the clock in small steps, ticking the engine and the relays' sessions.
    void run_for(std::chrono::milliseconds total, std::chrono::milliseconds step = 20ms) {
        auto end = now.mono + total;
        while (now.mono < end) {
            now.mono += step;
            now.unix_ms += uint64_t(step.count());
            for (auto& r : relays)
                if (r->session && r->session->next_deadline() <= now.mono) r->session->on_timer(now.mono);
            engine.on_tick(now);
            answer_gets();
            pump();
        }
    }
    template <typename Pred>
    bool run_until(Pred pred, std::chrono::milliseconds limit) {
        auto end = now.mono + limit;
        while (now.mono < end) {
            if (pred()) return true;
            run_for(20ms);
        }
        return pred();
    }
    bool saw(const std::string& s) const {
        return std::any_of(events.begin(), events.end(), [&](const std::string& e) { return e.find(s) != std::string::npos; });
    }
    size_t count(const std::string& s) const {
        return size_t(std::count_if(events.begin(), events.end(), [&](const std::string& e) { return e.find(s) != std::string::npos; }));
    }
    std::string short_id(const FakeRelay& r) const { return node_id(r.pub()).substr(0, 16); }
    std::string all_events() const {
        std::string o;
        for (const auto& e : events) o += e + "\n";
        return o;
    }
};

// One offer at a time, so that which relay is asked when is up to the test.
ClientEngineConfig one_at_a_time() {
    ClientEngineConfig c = World::config();
    c.choice.calm_outstanding = c.choice.brisk_outstanding = c.choice.flood_outstanding = 1;
    return c;
}

}  // namespace

TEST_CASE("client engine: every step to connected, then WireGuard both ways") {
    World w;
    w.engine.start(w.now);
    // The directory is read with gets, one random replica key of every bucket, never a listen.
    CHECK(w.listens.empty());
    w.run_for(20ms);
    REQUIRE(w.keys_read.size() == kRelayBuckets);
    std::set<unsigned> buckets;
    for (const auto& k : w.keys_read)
        for (unsigned b = 0; b < kRelayBuckets; ++b)
            for (unsigned r = 0; r < kBucketReplicas; ++r)
                if (relay_directory_key(b, r) == k) buckets.insert(b);
    CHECK(buckets.size() == kRelayBuckets);
    CHECK(w.engine.step() == Step::finding_relays);
    CHECK(w.events.back() == "finding relays");

    // WireGuard before the tunnel is up: locked onto; its initiation is held, anything else dropped.
    w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
    CHECK(w.saw("WireGuard attached from 127.0.0.1:50000"));
    CHECK(w.engine.holds_initiation());
    w.engine.on_local_datagram(w.now, w.wg_local, wg_keepalive());
    CHECK(w.engine.counters().local_dropped_not_connected == 1);
    CHECK(w.wg_to_relay.empty());

    w.run_for(500ms);
    CHECK(w.engine.step() == Step::finding_relays);  // nothing in the directory yet
    FakeRelay& r = w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
    INFO(w.all_events());
    CHECK(w.saw("found 1 relay(s) in the directory"));
    CHECK(w.saw("public address learned from 1 reflector(s); NAT mapping"));
    CHECK(w.saw("picked relay " + w.short_id(r) + " at random; rendezvous sent (1 address candidate(s))"));
    CHECK(w.saw("answer received; punching to 1 relay candidate(s) of relay " + w.short_id(r) + " (1 relay(s) asked)"));
    CHECK(w.saw("path validated; connected via relay " + w.short_id(r) + " (RTT "));
    CHECK(w.engine.reflector().mapped() == w.client_pub);
    CHECK(w.engine.offers_waiting() == 0);
    CHECK(w.listens.empty());  // the client listens on nothing
    CHECK(r.session->state() == SessionState::established);
    CHECK(w.engine.relay()->node_pub == r.pub());
    CHECK(!w.gave_up_why);

    // The held initiation left as the path connected.
    REQUIRE(w.wg_to_relay.size() == 1);
    CHECK(w.wg_to_relay[0].to == r.addr);
    CHECK(w.wg_to_relay[0].data == wg_initiation());
    CHECK(w.engine.counters().held_initiations_sent == 1);
    CHECK(!w.engine.holds_initiation());
    // The data path: local WireGuard to the relay's validated address, and back.
    w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
    REQUIRE(w.wg_to_relay.size() == 2);
    CHECK(w.wg_to_relay[1].to == r.addr);
    // another local source is not served (but for a handshake initiation from loopback, below)
    w.engine.on_local_datagram(w.now, *Endpoint::parse("127.0.0.1:50001"), wg_keepalive());
    CHECK(w.wg_to_relay.size() == 2);
    CHECK(w.engine.counters().local_other_source == 1);
    CHECK(w.engine.local_peer() == w.wg_local);
    Bytes resp = wg_response();
    CHECK(w.engine.on_datagram(w.now, r.addr, resp));
    REQUIRE(w.wg_to_local.size() == 1);
    CHECK(w.wg_to_local[0].to == w.wg_local);
    CHECK(w.count("VPN answered the handshake") == 1);
    // WireGuard from anyone but the relay's bound address is not the client's
    CHECK(!w.engine.on_datagram(w.now, *Endpoint::parse("198.51.100.99:4500"), resp));
    CHECK(w.wg_to_local.size() == 1);

    // Keepalives keep it connected.
    w.run_for(30s, 100ms);
    CHECK(w.engine.step() == Step::connected);
    CHECK(w.engine.attempts() == 1);

    // close(): CLOSE frame to the relay, every listen cancelled.
    w.engine.close(w.now);
    w.pump();
    CHECK(w.listens.empty());
    CHECK(r.session->state() == SessionState::closed);
}

TEST_CASE("client engine: no reflector answers, host addresses only after 3 s") {
    World w;
    w.reflector_answers = false;
    w.engine.start(w.now);
    w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
    CHECK(w.saw("no reflector answered; offering host addresses only"));
    CHECK(w.probes >= 2);  // re-sent while waiting
    CHECK(w.probes <= 8);  // at most every 500 ms for 3 s
}

TEST_CASE("client engine: a silent relay is given up after the answer wait, another one asked") {
    World w(one_at_a_time());
    w.engine.start(w.now);
    FakeRelay& silent = w.add_relay(Mode::silent);
    REQUIRE(w.run_until([&] { return silent.offers == 1; }, 5s));
    FakeRelay& good = w.add_relay(Mode::accept);
    w.run_for(3s);
    CHECK(good.offers == 0);  // one offer at a time: still waiting for the silent one
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 6s));
    INFO(w.all_events());
    CHECK(w.saw("no answer from relay " + w.short_id(silent) + " in 5 s; asking others"));
    CHECK(w.engine.relay()->node_pub == good.pub());
    CHECK(w.engine.choice()->silent() == 1);
}

TEST_CASE("client engine: a full relay is passed over for another") {
    World w(one_at_a_time());
    w.engine.start(w.now);
    FakeRelay& full = w.add_relay(Mode::full);
    REQUIRE(w.run_until([&] { return full.offers == 1; }, 5s));
    CHECK(w.saw("relay " + w.short_id(full) + " refused: relay at capacity; asking others"));
    CHECK(w.engine.step() == Step::rendezvous);
    FakeRelay& good = w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
    CHECK(w.engine.relay()->node_pub == good.pub());
    CHECK(w.engine.counters().answers_refused == 1);
    CHECK(!w.gave_up_why);
}

TEST_CASE("client engine: a relay full at validation is passed over for another") {
    World w(one_at_a_time());
    w.engine.start(w.now);
    FakeRelay& full = w.add_relay(Mode::full_at_validation);
    REQUIRE(w.run_until([&] { return w.engine.counters().refused_at_validation == 1; }, 5s));
    INFO(w.all_events());
    CHECK(w.saw("relay " + w.short_id(full) + " refused at validation: relay at capacity; asking others"));
    CHECK(w.engine.step() == Step::rendezvous);
    CHECK(w.engine.session() == nullptr);
    FakeRelay& good = w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
    CHECK(w.engine.relay()->node_pub == good.pub());
    CHECK(w.engine.attempts() == 1);
    CHECK(!w.gave_up_why);
}

TEST_CASE("client engine: a relay that closes at validation for another reason fails the attempt") {
    World w;
    w.engine.start(w.now);
    w.add_relay(Mode::close_at_validation);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::failed; }, 5s));
    INFO(w.all_events());
    CHECK(w.events.back() == "failed at step 'punching': peer closed the session (reason 4)");
    CHECK(w.gave_up_why);
}

TEST_CASE("client engine: a refusal that would be the same everywhere fails the attempt") {
    World w;
    w.engine.start(w.now);
    FakeRelay& r = w.add_relay(Mode::refuse_endpoint);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::failed; }, 5s));
    std::string line = "failed at step 'rendezvous': relay refused: VPN endpoint not allowed (relay " + w.short_id(r) + ")";
    CHECK(w.events.back() == line);
    REQUIRE(w.gave_up_why);
    CHECK(*w.gave_up_why == line);
    CHECK(w.listens.empty());  // the client listens on nothing
    // The engine does nothing more.
    size_t n = w.events.size();
    w.run_for(30s, 200ms);
    CHECK(w.events.size() == n);
    CHECK(w.engine.step() == Step::failed);
}

TEST_CASE("client engine: a session lost after connecting starts a new attempt") {
    World w;
    w.engine.start(w.now);
    FakeRelay& r = w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
    // The relay closes the session.
    r.session->close(0, w.now.mono);
    REQUIRE(w.run_until([&] { return w.engine.attempts() == 2; }, 2s));
    INFO(w.all_events());
    CHECK(w.saw("failed at step 'session': "));
    CHECK(w.count("finding relays") == 2);
    CHECK(!w.gave_up_why);
    // ... and connects again (the relay takes the new offer).
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
    CHECK(w.count("path validated; connected via relay") == 2);
    CHECK(r.offers == 2);
}

TEST_CASE("client engine: timeouts fail with the step and the reason") {
    SUBCASE("no relay in the directory") {
        World w;
        w.engine.start(w.now);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::failed; }, 25s));
        CHECK(w.events.back() == "failed at step 'finding relays': no relay in the directory after 20 s");
        CHECK(w.gave_up_why);
    }
    SUBCASE("not connected to the DHT") {
        World w;
        w.dht_up = false;
        w.engine.start(w.now);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::failed; }, 25s));
        CHECK(w.events.back() == "failed at step 'finding relays': not connected to the DHT (bootstrap unreachable?)");
    }
    SUBCASE("no relay accepts") {
        World w;
        w.engine.start(w.now);
        w.add_relay(Mode::silent);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::failed; }, 25s));
        INFO(w.all_events());
        CHECK(w.events.back().rfind("failed at step 'rendezvous': no relay accepted within 20 s (1 relay(s) asked, ", 0) == 0);
        CHECK(w.listens.empty());
    }
    SUBCASE("punching finds no path") {
        World w;
        w.engine.start(w.now);
        w.add_relay(Mode::mute_session);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::failed; }, 25s));
        INFO(w.all_events());
        CHECK(w.saw("answer received; punching"));
        CHECK(w.events.back().rfind("failed at step 'punching': ", 0) == 0);
        CHECK(w.gave_up_why);
    }
}

TEST_CASE("client engine: a replayed or badly clocked answer is not used") {
    World w(one_at_a_time());
    w.engine.start(w.now);
    FakeRelay& r = w.add_relay(Mode::stale);
    REQUIRE(w.run_until([&] { return r.offers == 1; }, 5s));
    CHECK(w.engine.counters().answers_stale == 1);
    CHECK(w.engine.step() == Step::rendezvous);
    CHECK(w.engine.offers_waiting() == 1);  // still waiting for a fresh one
    CHECK(!w.saw("answer received"));
}

TEST_CASE("client engine: answers that are late or not for the offer are not used") {
    World w(one_at_a_time());
    w.engine.start(w.now);
    FakeRelay& full = w.add_relay(Mode::full);
    REQUIRE(w.run_until([&] { return full.offers == 1; }, 5s));
    // An answer frame for an id the client never sent a hello with: counted late, nothing else;
    // a hello (the client never answers those) and a DHT value at an unknown listen: ignored.
    auto before = w.engine.counters().answers_late;
    HelloId stranger{};
    stranger.fill(0x77);
    CHECK(w.engine.on_datagram(w.now, full.addr, make_rendezvous_answer(stranger, Bytes(kRendezvousValueSize, 1))));
    CHECK(w.engine.counters().answers_late == before + 1);
    CHECK_FALSE(w.engine.on_datagram(w.now, full.addr, make_rendezvous_hello(stranger)));
    w.engine.on_dht_values(w.now, DhtKey{}, 99999, {Bytes(kRendezvousValueSize, 1)}, false);
    CHECK(w.engine.counters().answers_late == before + 1);
    // Values at a directory key from a read the engine did not make are not judged.
    auto values = w.engine.counters().directory_values;
    w.stored[relay_directory_key(0, 0)].push_back(Bytes(7, 0));
    w.engine.on_dht_values(w.now, relay_directory_key(0, 0), w.next_token, {Bytes(7, 0)}, false);  // no such read
    CHECK(w.engine.counters().directory_values == values);
    DhtListenToken t = w.dht_get(relay_directory_key(0, 0));  // a read the engine did not ask for is ignored too
    w.gets.clear();
    w.engine.on_dht_values(w.now, relay_directory_key(0, 0), t, {Bytes(7, 0)}, false);
    CHECK(w.engine.counters().directory_values == values);
    CHECK(w.engine.directory().live(w.now.unix_s()).size() == 1);
    CHECK(w.engine.step() == Step::rendezvous);
}

TEST_CASE("client entry: a handshake initiation from a new loopback source moves the lock; nothing else does") {
    World w;
    w.engine.start(w.now);
    w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
    w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
    REQUIRE(w.wg_to_relay.size() == 1);

    // Not loopback, or not an initiation: dropped and counted, the lock stays.
    const Endpoint lan = *Endpoint::parse("192.168.1.9:50000"), v6 = *Endpoint::parse("[2001:db8::1]:50000");
    const Endpoint lo2 = *Endpoint::parse("127.0.0.2:41000"), lo6 = *Endpoint::parse("[::1]:41000");
    w.engine.on_local_datagram(w.now, lan, wg_initiation());
    w.engine.on_local_datagram(w.now, v6, wg_initiation());
    w.engine.on_local_datagram(w.now, lo2, wg_keepalive());
    w.engine.on_local_datagram(w.now, lo2, wg_response());
    w.engine.on_local_datagram(w.now, lo2, Bytes(40, 0x99));  // not WireGuard at all
    CHECK(w.engine.counters().local_other_source == 5);
    CHECK(w.engine.counters().local_relocks == 0);
    CHECK(w.engine.local_peer() == w.wg_local);
    CHECK(w.wg_to_relay.size() == 1);
    CHECK(!w.saw("WireGuard source changed"));

    // A loopback initiation: followed, logged, forwarded; answers go to the new source.
    w.engine.on_local_datagram(w.now, lo2, wg_initiation());
    CHECK(w.engine.local_peer() == lo2);
    CHECK(w.engine.counters().local_relocks == 1);
    CHECK(w.events.back() == "WireGuard source changed to 127.0.0.2:41000; following it");
    CHECK(w.levels.back() == EngineEvent::Level::info);
    REQUIRE(w.wg_to_relay.size() == 2);
    CHECK(w.engine.on_datagram(w.now, w.relays[0]->addr, wg_response()));
    REQUIRE(w.wg_to_local.size() == 1);
    CHECK(w.wg_to_local[0].to == lo2);
    // The old source is now a stranger.
    w.engine.on_local_datagram(w.now, w.wg_local, wg_keepalive());
    CHECK(w.engine.counters().local_other_source == 6);
    // IPv6 loopback too (a listener on [::1] or [::]).
    w.engine.on_local_datagram(w.now, lo6, wg_initiation());
    CHECK(w.engine.local_peer() == lo6);
    CHECK(w.engine.counters().local_relocks == 2);
}

TEST_CASE("client entry: the VPN's handshake answer, or a warning 5 s after the first forwarded initiation") {
    SUBCASE("answered") {
        World w;
        w.engine.start(w.now);
        w.add_relay(Mode::accept);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
        w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
        w.run_for(1s);
        CHECK(!w.saw("VPN answered"));
        CHECK(w.engine.on_datagram(w.now, w.relays[0]->addr, wg_response()));
        CHECK(w.events.back() == "VPN answered the handshake");
        CHECK(w.levels.back() == EngineEvent::Level::info);
        CHECK(w.engine.vpn_answered());
        CHECK(w.engine.on_datagram(w.now, w.relays[0]->addr, wg_response()));
        w.run_for(10s, 100ms);
        CHECK(w.count("VPN answered the handshake") == 1);
        CHECK(!w.saw("no answer from the VPN"));
    }
    SUBCASE("not answered") {
        World w;
        w.engine.start(w.now);
        w.add_relay(Mode::accept);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
        // Transport data alone starts no clock: WireGuard may be sending on an old keypair.
        w.engine.on_local_datagram(w.now, w.wg_local, wg_keepalive());
        w.run_for(6s);
        CHECK(!w.saw("no answer from the VPN"));
        w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
        const auto first = w.now.mono;
        // The engine asks to be called when the wait is over.
        CHECK(w.engine.on_tick(w.now) <= first + kHandshakeAnswerWait);
        w.run_for(4900ms, 100ms);
        CHECK(!w.saw("no answer from the VPN"));
        w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());  // WireGuard's retry
        w.run_for(200ms, 100ms);
        CHECK(w.count("no answer from the VPN") == 1);
        CHECK(w.events.back() ==
              "no answer from the VPN to WireGuard's handshake after 5 s: wrong VPN endpoint or port, wrong key, or the VPN is down");
        CHECK(w.levels.back() == EngineEvent::Level::warn);
        w.run_for(20s, 100ms);
        CHECK(w.count("no answer from the VPN") == 1);
        // A late answer is still reported.
        CHECK(w.engine.on_datagram(w.now, w.relays[0]->addr, wg_response()));
        CHECK(w.events.back() == "VPN answered the handshake");
    }
}

TEST_CASE("client entry: a relay that closes the session before the VPN answers gets one warning, however often") {
    World w;
    w.engine.start(w.now);
    FakeRelay& r = w.add_relay(Mode::accept);
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
        w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
        w.run_for(100ms);
        // As a relay does when the endpoint's port is closed or it is no WireGuard server.
        r.session->close(0, w.now.mono);
        REQUIRE(w.run_until([&] { return w.engine.step() != Step::connected; }, 2s));
        INFO(w.all_events());
        CHECK(w.count("no answer from the VPN") == 1);
    }
    auto it = std::find_if(w.events.begin(), w.events.end(),
                           [](const std::string& e) { return e.find("no answer from the VPN") != std::string::npos; });
    REQUIRE(it != w.events.end());
    CHECK(it->rfind("no answer from the VPN to WireGuard's handshake: the relay closed the session 0.1 s after forwarding it", 0) == 0);
    CHECK(w.levels[size_t(it - w.events.begin())] == EngineEvent::Level::warn);
    // A session whose handshake was answered ends without a warning; the next unanswered one warns again.
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
    w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
    CHECK(w.engine.on_datagram(w.now, r.addr, wg_response()));
    r.session->close(0, w.now.mono);
    REQUIRE(w.run_until([&] { return w.engine.step() != Step::connected; }, 2s));
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
    CHECK(w.count("no answer from the VPN") == 1);
    auto sent = w.wg_to_relay.size();
    w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
    CHECK(w.wg_to_relay.size() == sent + 1);
    CHECK(w.engine.step() == Step::connected);
    w.run_for(5100ms, 100ms);
    CHECK(w.engine.step() == Step::connected);
    INFO(w.all_events());
    CHECK(w.count("no answer from the VPN") == 2);
}

TEST_CASE("client entry: the newest initiation held while no path is up is sent on connect, if fresh") {
    SUBCASE("fresh: sent once, the newest") {
        World w;
        w.engine.start(w.now);
        Bytes older = wg_initiation(), newer = wg_initiation();
        newer[4] = 0x77;  // another sender index
        w.engine.on_local_datagram(w.now, w.wg_local, older);
        w.run_for(200ms);
        w.engine.on_local_datagram(w.now, w.wg_local, newer);
        CHECK(w.engine.counters().initiations_held == 2);
        CHECK(w.engine.counters().local_dropped_not_connected == 1);  // the older one
        w.add_relay(Mode::accept);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
        REQUIRE(w.wg_to_relay.size() == 1);
        CHECK(w.wg_to_relay[0].data == newer);
        CHECK(w.saw("sent WireGuard's handshake initiation held while no path was up ("));
        CHECK(!w.saw("new session:"));  // the first path: no switch
        w.run_for(2s);
        CHECK(w.wg_to_relay.size() == 1);
    }
    SUBCASE("older than 5 s: dropped") {
        World w;
        w.engine.start(w.now);
        w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
        w.run_for(5100ms, 100ms);
        w.add_relay(Mode::accept);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
        w.run_for(1s);
        CHECK(w.wg_to_relay.empty());
        CHECK(w.engine.counters().held_initiations_sent == 0);
        CHECK(w.engine.counters().local_dropped_not_connected == 1);
        CHECK(!w.engine.holds_initiation());
    }
    SUBCASE("after a relay switch: sent on the new path, and the client says what it waits for") {
        World w;
        w.engine.start(w.now);
        FakeRelay& r = w.add_relay(Mode::accept);
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
        r.session->close(0, w.now.mono);
        REQUIRE(w.run_until([&] { return w.engine.attempts() == 2; }, 2s));
        w.engine.on_local_datagram(w.now, w.wg_local, wg_initiation());
        CHECK(w.wg_to_relay.empty());
        REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
        INFO(w.all_events());
        CHECK(w.wg_to_relay.size() == 1);
        CHECK(w.saw("new session: waiting for the VPN to answer WireGuard's handshake on it"));
    }
}

TEST_CASE("client engine: the first reflector's answer decides at once, and every new attempt asks again") {
    World w;
    w.engine.start(w.now);
    FakeRelay& r = w.add_relay(Mode::accept);
    // From the directory's answer to the address decision (both may fall in one 20 ms step).
    auto learning_time = [&]() {
        const size_t found = w.count("relay(s) in the directory"), learned = w.count("public address learned");
        REQUIRE(w.run_until([&] { return w.count("relay(s) in the directory") > found; }, 3s));
        const auto t0 = w.now.mono;
        REQUIRE(w.run_until([&] { return w.count("public address learned") > learned; }, 4s));
        return w.now.mono - t0;
    };
    const size_t probes_before = w.probes;
    CHECK(learning_time() <= 20ms);
    INFO(w.all_events());
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 5s));
    // The session is lost after a move (another public address): the new attempt asks the
    // reflector again rather than offering the old address.
    const size_t probes_connected = w.probes;
    CHECK(probes_connected > probes_before);
    w.reflect_as = *Endpoint::parse("198.51.100.44:40000");
    r.session->close(0, w.now.mono);
    CHECK(learning_time() <= 20ms);
    CHECK(w.probes > probes_connected);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
}

TEST_CASE("client engine: a forged STUN answer costs a wrong candidate, not the connection") {
    // The relay binds the address the client's authenticated frames come from, whatever the
    // offer's reflexive candidate says.
    World w;
    w.reflect_as = *Endpoint::parse("192.0.2.99:1234");
    w.engine.start(w.now);
    FakeRelay& r = w.add_relay(Mode::accept);
    REQUIRE(w.run_until([&] { return w.engine.step() == Step::connected; }, 8s));
    INFO(w.all_events());
    REQUIRE(r.session->peer());
    CHECK(*r.session->peer() == w.client_pub);
}
