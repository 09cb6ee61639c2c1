// The relay engine in memory: a fake host records what it sends, puts and opens; a client
// built from the core Session class punches to it; time is advanced by hand.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <memory>
#include <string>

#include "crypto/random.h"
#include "crypto/session_keys.h"
#include "dht/presence_record.h"
#include "relay/engine/relay_engine.h"
#include "relay/wire/rendezvous_frame.h"
#include "dht/inbox_keys.h"
#include "relay/wire/stun.h"

using namespace pave;
using namespace std::chrono_literals;

namespace {

using Clock = RelayEngine::Clock;
using ConnId = RelayEngine::ConnId;

Endpoint ep(const std::string& text) { return Endpoint::parse(text).value(); }

const Endpoint kRelayPub = ep("203.0.113.20:4500");
const Endpoint kVpn = ep("203.0.113.30:51820");

Bytes wg(uint8_t type, size_t len, uint32_t a, uint32_t b = 0) {
    Bytes p(len, 0x5c);
    p[0] = type;
    p[1] = p[2] = p[3] = 0;
    for (int i = 0; i < 4; ++i) p[4 + i] = uint8_t(a >> (8 * i));
    if (type == 2)
        for (int i = 0; i < 4; ++i) p[8 + i] = uint8_t(b >> (8 * i));
    return p;
}
Bytes wg_init(uint32_t sender) { return wg(1, 148, sender); }
Bytes wg_resp(uint32_t sender, uint32_t receiver) { return wg(2, 92, sender, receiver); }

struct Sent {
    Endpoint to;
    Bytes data;
};

struct FakeHost : RelayEngineHost {
    std::vector<Sent> sent, replies;
    std::vector<std::pair<DhtKey, Bytes>> puts;
    std::map<DhtListenToken, DhtKey> listens;
    std::vector<DhtListenToken> cancelled;
    DhtListenToken next_token = 100;
    std::vector<EngineEvent> events;
    std::map<ConnId, Endpoint> vpn;  // open sockets
    std::vector<std::pair<ConnId, Bytes>> to_vpn;
    std::vector<ConnId> vpn_closed;
    std::string vpn_error;
    bool reply_ok = true;
    std::vector<Endpoint> candidates = {kRelayPub};

    void send(const Endpoint& to, ByteView d) override { sent.push_back({to, Bytes(d.begin(), d.end())}); }
    void dht_put(const DhtKey& k, Bytes v) override { puts.emplace_back(k, std::move(v)); }
    struct Announced {
        DhtKey key;
        uint64_t id;
        Bytes value;
    };
    std::vector<Announced> announces;
    std::vector<std::pair<DhtKey, uint64_t>> withdrawn;
    uint64_t next_value_id = 1000;
    bool connected = true;
    uint64_t dht_announce(const DhtKey& k, Bytes v) override {
        announces.push_back({k, ++next_value_id, std::move(v)});
        return next_value_id;
    }
    void dht_withdraw(const DhtKey& k, uint64_t id) override { withdrawn.emplace_back(k, id); }
    bool dht_connected() override { return connected; }
    DhtListenToken dht_listen(const DhtKey& k) override {
        listens[++next_token] = k;
        return next_token;
    }
    void dht_cancel_listen(const DhtKey& k, DhtListenToken t) override {
        CHECK(listens.at(t) == k);
        listens.erase(t);
        cancelled.push_back(t);
    }
    void event(const EngineEvent& e) override { events.push_back(e); }
    std::string vpn_open(const ConnId& id, const Endpoint& v, uint32_t) override {
        if (!vpn_error.empty()) return vpn_error;
        CHECK(vpn.count(id) == 0);
        vpn[id] = v;
        return "";
    }
    void vpn_send(const ConnId& id, ByteView d) override {
        CHECK(vpn.count(id) == 1);
        to_vpn.emplace_back(id, Bytes(d.begin(), d.end()));
    }
    void vpn_close(const ConnId& id) override {
        CHECK(vpn.erase(id) == 1);
        vpn_closed.push_back(id);
    }
    bool send_reply(const Endpoint& to, ByteView d) override {
        if (reply_ok) replies.push_back({to, Bytes(d.begin(), d.end())});
        return reply_ok;
    }
    std::vector<Endpoint> own_candidates() override { return candidates; }
    std::vector<Endpoint> host_addresses() override { return {ep("10.2.0.2:0")}; }

    bool logged(const std::string& text) const {
        for (const auto& e : events)
            if (e.message.find(text) != std::string::npos) return true;
        return false;
    }
};

// A client of the relay: seals offers, reads answers, and punches with a core Session.
struct Client {
    Endpoint addr;
    X25519Key eph = X25519Key::generate();
    SealedOffer sealed;
    ByteArray<16> session_id{};
    std::unique_ptr<Session> session;
    std::vector<Sent> out;  // what the client sent
};

struct Bench {
    FakeHost host;
    Ed25519Key key = Ed25519Key::generate();
    RelayEngineConfig cfg;
    std::unique_ptr<RelayEngine> engine;
    EngineTime now{Clock::time_point{} + 1000h, 1'700'000'000'000};
    SessionTimers client_timers;

    explicit Bench(RelayEngineConfig c = {}) : cfg(c) {
        engine = std::make_unique<RelayEngine>(host, key, cfg, std::vector<Endpoint>{ep("10.2.0.2:4500")});
        engine->on_tick(now);
        // The storers acknowledge the presence: the relay listens on its inboxes from then on.
        for (const auto& a : host.announces) engine->on_announce_done(now, a.key, a.id, true);
    }
    ~Bench() { engine->shutdown(now); }

    void advance(std::chrono::milliseconds d) {
        now.mono += d;
        now.unix_ms += uint64_t(d.count());
    }
    uint64_t period() const { return engine->period_of(now.unix_s()); }
    // The inbox key of the current period, as the relay's last presence record names it.
    PresenceRecord presence() const {
        const DhtKey bucket = relay_directory_key(engine->bucket(), 0);
        for (auto it = host.announces.rbegin(); it != host.announces.rend(); ++it)
            if (it->key == bucket) return decode_and_verify_presence(it->value).record.value();
        FAIL("no presence record");
        return {};
    }
    DhtListenToken inbox_listen(uint64_t p, unsigned shard = 0) const {
        const DhtKey k = inbox_shard_key(shard, engine->period_secs(), p);
        for (const auto& [t, lk] : host.listens)
            if (lk == k) return t;
        FAIL("no listen on the inbox");
        return 0;
    }
    void feed(Bytes value, unsigned shard = 0) {
        const uint64_t p = period();
        engine->on_dht_values(now, inbox_shard_key(shard, engine->period_secs(), p), inbox_listen(p, shard),
                              {std::move(value)}, false);
    }

    Client offer(const std::string& client_addr, const Endpoint& vpn = kVpn, int64_t skew_ms = 0) {
        Client c;
        c.addr = ep(client_addr);
        Offer o;
        random_bytes(c.session_id);
        o.session_id = c.session_id;
        o.client_share = c.eph.pub;
        o.candidates = {c.addr};
        o.vpn = vpn;
        o.timestamp_ms = rendezvous_timestamp_now(uint64_t(int64_t(now.unix_ms) + skew_ms));
        PresenceRecord r = presence();
        c.sealed = seal_offer(o, r.inbox_pub, key.public_key(), r.period).value();
        return c;
    }
    // The answer the relay holds for this client's offer, if any: a hello from the client's
    // address asks for it, and it comes back to that address.
    std::optional<Answer> answer_of(const Client& c) {
        const HelloId id = rendezvous_hello_id(c.sealed.answer_key_material);
        const size_t before = host.replies.size();
        CHECK(engine->on_datagram(now, c.addr, make_rendezvous_hello(id)));
        if (host.replies.size() == before) return std::nullopt;
        REQUIRE(host.replies.size() == before + 1);
        const Sent& r = host.replies.back();
        CHECK(r.to == c.addr);
        auto f = parse_rendezvous_frame(r.data);
        REQUIRE(f);
        CHECK(f->kind == RendezvousFrame::Kind::answer);
        CHECK(f->id == id);
        return open_answer(f->sealed, c.eph, c.sealed.answer_key_material);
    }
    // Offer, answer and a client Session punching to the relay's candidates.
    Client connect(const std::string& client_addr, const Endpoint& vpn = kVpn) {
        Client c = offer(client_addr, vpn);
        feed(c.sealed.value);
        auto a = answer_of(c);
        REQUIRE(a);
        REQUIRE(a->accepted);
        auto ee = x25519_shared(c.eph.priv, a->relay_share);
        auto keys = derive_session_keys(c.sealed.answer_key_material, *ee);
        REQUIRE(keys);
        c.session = std::make_unique<Session>(SessionRole::client, *keys, a->candidates, now.mono, client_timers,
                                              [this, from = c.addr](const Endpoint& to, ByteView d) {
                                                  pending.push_back({from, to, Bytes(d.begin(), d.end())});
                                              });
        return c;
    }

    struct Wire {
        Endpoint from, to;
        Bytes data;
    };
    std::vector<Wire> pending;  // client -> relay
    size_t relay_sent_seen = 0;

    // Delivers datagrams both ways; the relay's go to the clients listed (by address).
    void deliver(std::vector<Client*> clients) {
        for (int round = 0; round < 8; ++round) {
            auto batch = std::move(pending);
            pending.clear();
            for (auto& w : batch)
                if (w.to == kRelayPub) engine->on_datagram(now, w.from, w.data);
            for (; relay_sent_seen < host.sent.size(); ++relay_sent_seen) {
                const Sent s = host.sent[relay_sent_seen];
                for (Client* c : clients)
                    if (c->session && s.to == c->addr) c->session->on_control(s.data, kRelayPub, now.mono);
            }
        }
    }
    void run_for(std::chrono::milliseconds total, std::vector<Client*> clients) {
        auto end = now.mono + total;
        while (now.mono < end) {
            advance(10ms);
            if (engine->next_deadline() <= now.mono) engine->on_tick(now);
            for (Client* c : clients)
                if (c->session && c->session->next_deadline() <= now.mono) c->session->on_timer(now.mono);
            deliver(clients);
        }
    }
};

ConnId only_session(const RelayEngine& e) {
    auto ids = e.session_ids();
    REQUIRE(ids.size() == 1);
    return ids[0];
}

}  // namespace

TEST_CASE("relay engine: presence published; inbox keys rotate; listens follow the periods its records name") {
    RelayEngineConfig c;
    c.presence_ttl_s = 10;  // period 10 s: the next period's shards are listened on from 2 s before it
    Bench b(c);             // at the start of a period
    const uint64_t p0 = b.period();
    auto listened = [&](uint64_t p) {
        size_t n = 0;
        for (const auto& [t, k] : b.host.listens)
            for (unsigned s = 0; s < kInboxShards; ++s) n += k == inbox_shard_key(s, 10, p);
        return n;
    };
    CHECK(b.engine->publications() == 1);
    CHECK(b.host.listens.size() == kInboxShards);  // every shard of the only period a record names
    CHECK(listened(p0) == kInboxShards);
    const PresenceRecord first = b.presence();
    CHECK(first.period == p0);
    CHECK(first.capacity == c.capacity);
    CHECK(first.endpoints == std::vector<Endpoint>{kRelayPub});  // where clients send hellos
    b.advance(3s);
    b.engine->on_tick(b.now);
    CHECK(b.engine->publications() == 2);  // three chances per TTL
    CHECK(b.host.listens.size() == kInboxShards);
    b.advance(5s);  // 8 s: 2 s before the next period; the record is replaced (expires at 18 s)
    b.engine->on_tick(b.now);
    CHECK(listened(p0 + 1) == kInboxShards);
    CHECK(b.host.listens.size() == 2 * kInboxShards);
    b.advance(2s);  // 10 s: the next period; records naming the previous one live until 18 s
    b.engine->on_tick(b.now);
    const PresenceRecord later = b.presence();
    CHECK(later.period == p0 + 1);
    CHECK(later.inbox_pub != first.inbox_pub);
    CHECK(listened(p0) == kInboxShards);
    CHECK(listened(p0 + 1) == kInboxShards);
    CHECK(b.host.cancelled.empty());
    b.advance(8s);  // 18 s: the last record naming p0 has expired; 2 s before p0 + 2
    b.engine->on_tick(b.now);
    CHECK(listened(p0) == 0);
    CHECK(listened(p0 + 1) == kInboxShards);
    CHECK(listened(p0 + 2) == kInboxShards);
    CHECK(b.host.cancelled.size() == kInboxShards);
    // A value on a listen that was cancelled is not for us.
    b.engine->on_dht_values(b.now, inbox_shard_key(0, 10, p0), b.host.cancelled.front(), {Bytes(kRendezvousValueSize)},
                            false);
    CHECK(b.engine->intake(RelayEngine::Intake::not_for_us) == 1);
}

TEST_CASE("relay engine: presence waits for the DHT, goes on every replica key, replaces itself, retries a failed round") {
    RelayEngineConfig c;
    c.presence_ttl_s = 30;
    FakeHost host;
    host.connected = false;  // not bootstrapped yet
    Ed25519Key key = Ed25519Key::generate();
    // 1 s into a 30 s period: no period change during the test (it covers 23 s).
    EngineTime now{Clock::time_point{} + 1000h, 1'700'000'011'000};
    RelayEngine engine(host, key, c, {ep("10.2.0.2:4500")});
    auto step = [&](std::chrono::milliseconds d) {
        now.mono += d;
        now.unix_ms += uint64_t(d.count());
        engine.on_tick(now);
    };
    engine.on_tick(now);
    step(5s);
    CHECK(host.announces.empty());  // nothing announced before the DHT is connected
    CHECK(host.listens.empty());    // nor listened on
    host.connected = true;
    engine.on_dht_joined(now);  // at once, not at the next housekeeping
    REQUIRE(host.announces.size() == kBucketReplicas);
    CHECK(host.listens.empty());  // the inboxes wait for a storer to hold the record
    step(1s);
    CHECK(host.announces.size() == kBucketReplicas);
    std::set<DhtKey> keys;
    for (const auto& a : host.announces) keys.insert(a.key);
    for (unsigned r = 0; r < kBucketReplicas; ++r) CHECK(keys.count(relay_directory_key(engine.bucket(), r)));
    CHECK(engine.presence_announced());
    // Every replica acknowledged: nothing more until the record is due (TTL / 3), and the
    // inboxes of the current period are listened on at once.
    for (const auto& a : host.announces) engine.on_announce_done(now, a.key, a.id, true);
    CHECK(host.listens.size() == kInboxShards);
    step(5s);
    CHECK(host.announces.size() == kBucketReplicas);
    step(6s);  // 11 s > 30 s / 3: the record is replaced, the previous announcements withdrawn
    REQUIRE(host.announces.size() == 2 * kBucketReplicas);
    REQUIRE(host.withdrawn.size() == kBucketReplicas);
    for (size_t i = 0; i < kBucketReplicas; ++i) {
        CHECK(host.withdrawn[i].first == host.announces[i].key);
        CHECK(host.withdrawn[i].second == host.announces[i].id);
    }
    // A round nobody acknowledged: announced again after 2 s, then 4 s (backoff).
    auto last = host.announces.back();
    engine.on_announce_done(now, last.key, last.id, false);
    CHECK(engine.announces_failed() == 1);
    step(1s);
    CHECK(host.announces.size() == 2 * kBucketReplicas);
    step(1s);
    REQUIRE(host.announces.size() == 3 * kBucketReplicas);
    last = host.announces.back();
    engine.on_announce_done(now, last.key, last.id, false);
    step(3s);
    CHECK(host.announces.size() == 3 * kBucketReplicas);
    step(1s);
    CHECK(host.announces.size() == 4 * kBucketReplicas);
    // The outcome of a replaced announcement is ignored.
    engine.on_announce_done(now, host.announces.front().key, host.announces.front().id, false);
    CHECK(engine.announces_failed() == 2);
    // Shutting down withdraws what is announced.
    size_t withdrawn = host.withdrawn.size();
    engine.shutdown(now);
    CHECK(host.withdrawn.size() == withdrawn + kBucketReplicas);
}

TEST_CASE("relay engine: the inboxes are listened on kInboxFallback after an announcement nobody acknowledged") {
    FakeHost host;
    Ed25519Key key = Ed25519Key::generate();
    EngineTime now{Clock::time_point{} + 1000h, 1'700'000'011'000};
    RelayEngine engine(host, key, RelayEngineConfig{}, {ep("10.2.0.2:4500")});
    engine.on_tick(now);
    REQUIRE(host.announces.size() == kBucketReplicas);
    for (int i = 0; i < 4; ++i) {
        now.mono += 1s;
        now.unix_ms += 1000;
        engine.on_tick(now);
    }
    CHECK(host.listens.empty());
    now.mono += 1s;
    now.unix_ms += 1000;
    engine.on_tick(now);
    CHECK(host.listens.size() == kInboxShards);
    engine.shutdown(now);
}

TEST_CASE("relay engine: a relay role beside a client announces after its delay and leaves its record to expire") {
    RelayEngineConfig c;
    c.presence_ttl_s = 600;
    c.announce_delay_s = 90;
    c.withdraw_on_shutdown = false;
    FakeHost host;
    Ed25519Key key = Ed25519Key::generate();
    EngineTime now{Clock::time_point{} + 1000h, 1'700'000'011'000};
    RelayEngine engine(host, key, c, {ep("10.2.0.2:4500")});
    auto step = [&](std::chrono::milliseconds d) {
        now.mono += d;
        now.unix_ms += uint64_t(d.count());
        engine.on_tick(now);
    };
    engine.on_tick(now);
    for (int i = 0; i < 89; ++i) step(1s);
    CHECK(host.announces.empty());  // connected, but the delay has not passed
    CHECK(host.listens.empty());    // no client can know its inbox keys yet
    step(1s);
    step(1s);
    CHECK(host.announces.size() == kBucketReplicas);
    for (const auto& a : host.announces) engine.on_announce_done(now, a.key, a.id, true);
    CHECK(host.listens.size() == kInboxShards);
    engine.shutdown(now);
    CHECK(host.withdrawn.empty());  // its end does not mark the moment the tunnel stopped
}

TEST_CASE("relay engine: intake counts junk, stale and replayed offers without answering them") {
    Bench b;
    b.feed(Bytes(10));
    CHECK(b.engine->intake(RelayEngine::Intake::wrong_size) == 1);
    Bytes junk(kRendezvousValueSize);
    random_bytes(junk);
    b.feed(junk);
    CHECK(b.engine->intake(RelayEngine::Intake::not_for_us) == 1);

    Client stale = b.offer("198.51.100.7:4600", kVpn, -61000);
    b.feed(stale.sealed.value);
    CHECK(b.engine->intake(RelayEngine::Intake::stale) == 1);
    CHECK_FALSE(b.answer_of(stale));

    Client c = b.offer("198.51.100.7:4600");
    b.feed(c.sealed.value);
    CHECK(b.engine->intake(RelayEngine::Intake::accepted) == 1);
    const size_t puts = b.host.puts.size();
    b.feed(c.sealed.value, 5);  // the same value again, on another shard
    CHECK(b.engine->intake(RelayEngine::Intake::replayed) == 1);
    CHECK(b.host.puts.size() == puts);  // the relay never puts anything but its presence
    CHECK(b.engine->answers_held() == 1);
    CHECK(b.engine->session_count() == 1);
}

TEST_CASE("relay engine: refusals carry their code") {
    SUBCASE("endpoint policy") {
        Bench b;
        Client c = b.offer("198.51.100.7:4600", ep("10.0.0.5:51820"));
        b.feed(c.sealed.value);
        auto a = b.answer_of(c);
        REQUIRE(a);
        CHECK_FALSE(a->accepted);
        CHECK(a->refuse_code == kRefuseEndpoint);
        CHECK(b.engine->intake(RelayEngine::Intake::refused) == 1);
        CHECK(b.engine->session_count() == 0);
        CHECK(b.host.logged("rendezvous refused"));
    }
    SUBCASE("no public address yet") {
        Bench b;
        b.host.candidates.clear();
        Client c = b.offer("198.51.100.7:4600");
        b.feed(c.sealed.value);
        auto a = b.answer_of(c);
        REQUIRE(a);
        CHECK(a->refuse_code == kRefuseInternal);
    }
    SUBCASE("capacity and per-client limit, once a session is established") {
        RelayEngineConfig cfg;
        cfg.capacity = 2;
        cfg.per_client_ip = 1;
        Bench b(cfg);
        Client c1 = b.connect("198.51.100.7:4600");
        b.run_for(300ms, {&c1});
        REQUIRE(c1.session->state() == SessionState::established);
        REQUIRE(b.engine->admission().established() == 1);

        Client same = b.offer("198.51.100.7:4601");  // the same address group
        b.feed(same.sealed.value);
        CHECK(b.answer_of(same)->refuse_code == kRefuseAddressLimit);

        Client c2 = b.connect("198.51.100.8:4600");
        b.run_for(300ms, {&c1, &c2});
        REQUIRE(b.engine->admission().established() == 2);
        Client c3 = b.offer("198.51.100.9:4600");
        b.feed(c3.sealed.value);
        CHECK(b.answer_of(c3)->refuse_code == kRefuseCapacity);
        CHECK(b.engine->intake(RelayEngine::Intake::refused) == 2);
    }
}

TEST_CASE("relay engine: trial decryptions within the budget, the rest queued and drained later") {
    RelayEngineConfig cfg;
    cfg.offers_per_second = 10;  // a burst of 5
    cfg.offer_queue = 4;
    Bench b(cfg);
    std::vector<Client> cs;
    for (int i = 0; i < 10; ++i) cs.push_back(b.offer("198.51.100." + std::to_string(10 + i) + ":4600"));
    for (auto& c : cs) b.feed(c.sealed.value);
    CHECK(b.engine->intake(RelayEngine::Intake::accepted) == 5);
    CHECK(b.engine->queued_offers() == 4);
    CHECK(b.engine->intake(RelayEngine::Intake::queue_full) == 1);
    CHECK(b.engine->intake(RelayEngine::Intake::rate_deferred) == 1);
    CHECK(b.engine->next_deadline() <= b.now.mono + RelayEngine::kDrainRetry);
    b.advance(500ms);
    b.engine->on_tick(b.now);
    CHECK(b.engine->intake(RelayEngine::Intake::accepted) == 9);
    CHECK(b.engine->queued_offers() == 0);
}

TEST_CASE("relay engine: a newcomer takes the slot of a silent pending session, which ends at once") {
    RelayEngineConfig cfg;
    cfg.pending_sessions = 2;
    Bench b(cfg);
    for (int i = 0; i < 5; ++i) b.feed(b.offer("198.51.100." + std::to_string(10 + i) + ":4600").sealed.value);
    CHECK(b.engine->intake(RelayEngine::Intake::accepted) == 5);
    CHECK(b.engine->intake(RelayEngine::Intake::evicted) == 3);
    CHECK(b.engine->session_count() == 2);  // never more than capacity + pending
    CHECK(b.engine->admission().pending() == 2);
}

TEST_CASE("relay engine: punching validates the client, opens the VPN socket, WireGuard crosses the gate") {
    Bench b;
    Client c = b.connect("198.51.100.7:4600");
    const ConnId id = only_session(*b.engine);
    CHECK(b.engine->admission().pending() == 1);
    CHECK(b.host.vpn.empty());  // no socket before validation
    b.run_for(300ms, {&c});
    REQUIRE(c.session->state() == SessionState::established);
    auto v = b.engine->session(id);
    REQUIRE(v);
    CHECK(v->session.state() == SessionState::established);
    CHECK(v->session.peer() == c.addr);
    CHECK(v->vpn_open);
    CHECK(b.host.vpn.at(id) == kVpn);
    CHECK(b.engine->admission().established() == 1);

    // Client -> VPN: only from the bound address.
    CHECK(b.engine->on_datagram(b.now, c.addr, wg_init(0x11)));
    REQUIRE(b.host.to_vpn.size() == 1);
    CHECK(b.host.to_vpn[0].second == wg_init(0x11));
    CHECK_FALSE(b.engine->on_datagram(b.now, ep("198.51.100.99:4600"), wg_init(0x12)));
    CHECK(b.host.to_vpn.size() == 1);

    // VPN -> client: the response to that initiation, to the bound address.
    const size_t before = b.host.sent.size();
    b.engine->on_vpn_datagram(b.now, id, wg_resp(0x22, 0x11));
    REQUIRE(b.host.sent.size() == before + 1);
    CHECK(b.host.sent.back().to == c.addr);
    CHECK(b.host.sent.back().data == wg_resp(0x22, 0x11));
    CHECK(b.engine->session(id)->gate.unlocked());
}

TEST_CASE("relay engine: sessions are reaped, their slot and socket returned") {
    SUBCASE("a punch nobody answers") {
        Bench b;
        Client c = b.offer("198.51.100.7:4600");
        b.feed(c.sealed.value);
        REQUIRE(b.engine->session_count() == 1);
        b.run_for(25s, {});
        CHECK(b.engine->session_count() == 0);
        CHECK(b.engine->admission().pending() == 0);
        CHECK(b.host.logged("ended (failed"));
        CHECK(b.engine->probe_bytes_unanswered() > 0);
        CHECK(b.engine->probe_bytes_unanswered() <= b.cfg.timers.punch_credit);
    }
    SUBCASE("a client that goes silent") {
        Bench b;
        Client c = b.connect("198.51.100.7:4600");
        b.run_for(300ms, {&c});
        const ConnId id = only_session(*b.engine);
        REQUIRE(b.host.vpn.count(id));
        c.session.reset();
        b.run_for(30s, {});
        CHECK(b.engine->session_count() == 0);
        CHECK(b.engine->admission().established() == 0);
        CHECK(b.host.vpn_closed == std::vector<ConnId>{id});
    }
    SUBCASE("a VPN endpoint that is no WireGuard server") {
        Bench b;
        Client c = b.connect("198.51.100.7:4600");
        b.run_for(300ms, {&c});
        const ConnId id = only_session(*b.engine);
        b.engine->on_datagram(b.now, c.addr, wg_init(0x11));
        b.engine->on_vpn_datagram(b.now, id, Bytes{'h', 'e', 'l', 'l', 'o'});
        CHECK(b.engine->session(id)->gate.closed());
        CHECK(b.host.logged("a datagram that is not WireGuard from the endpoint, which is no WireGuard server"));
        CHECK(b.engine->next_deadline() <= b.now.mono);
        b.engine->on_tick(b.now);
        CHECK(b.engine->session_count() == 0);
        CHECK(b.host.vpn_closed == std::vector<ConnId>{id});
    }
    SUBCASE("a VPN socket that cannot be opened closes the session") {
        Bench b;
        b.host.vpn_error = "cannot open the socket towards the VPN: test";
        Client c = b.connect("198.51.100.7:4600");
        b.run_for(1s, {&c});
        CHECK(b.engine->session_count() == 0);
        CHECK(b.host.vpn_closed.empty());
        CHECK(c.session->peer_close_reason() == kRefuseInternal);
    }
}

TEST_CASE("relay engine: shutdown tells established clients and closes the sockets") {
    Bench b;
    Client c = b.connect("198.51.100.7:4600");
    b.run_for(300ms, {&c});
    REQUIRE(c.session->state() == SessionState::established);
    b.engine->shutdown(b.now);
    b.deliver({&c});
    CHECK(c.session->state() == SessionState::closed);
    CHECK(b.host.vpn.empty());
    CHECK(b.engine->session_count() == 0);
}

TEST_CASE("relay engine: STUN answers within the per-source and total budgets") {
    Bench b;
    StunTxId tx;
    const Bytes req = build_binding_request(tx);
    const Endpoint src = ep("198.51.100.7:3478");
    for (int i = 0; i < 45; ++i) CHECK(b.engine->on_datagram(b.now, src, req));
    CHECK(b.engine->stun().answered() == 40);  // the per-source burst
    CHECK(b.engine->stun().rate_limited() == 5);
    REQUIRE(b.host.replies.size() == 40);
    CHECK(parse_binding_response(b.host.replies[0].data, tx) == src);
    CHECK(b.host.sent.empty());  // never unguarded

    b.advance(10s);  // every bucket full again
    for (int s = 0; s < 20; ++s)
        for (int i = 0; i < 30; ++i)
            b.engine->on_datagram(b.now, ep("198.51.101." + std::to_string(s) + ":3478"), req);
    CHECK(b.engine->stun().answered() == 40 + 500);  // the total burst
    CHECK(b.engine->stun().rate_limited() == 5 + 100);

    b.advance(10s);
    b.host.reply_ok = false;  // the port's amplification guard refuses
    b.engine->on_datagram(b.now, src, req);
    CHECK(b.engine->stun().over_budget() == 1);
    CHECK_FALSE(b.engine->on_datagram(b.now, src, Bytes{0x00, 0x01}));  // not a request: nobody's
}
