// Fuzzes the relay engine as a whole: genuine sealed offers with fuzzed fields (client address,
// VPN endpoint, timestamp), junk inbox values, clients built from the core Session class whose
// datagrams are delivered, dropped or sent from another address, raw and WireGuard-shaped
// datagrams from strangers, datagrams and port-unreachable from the VPN side, and time; then
// the promises after every step: sessions within capacity + pending, established ones within
// capacity, the offer queue bounded, the VPN socket used only while open and closed once, and
// an address that never validated receives at most 3x what it sent plus the punch credit of
// the offers that named it. Any broken promise aborts.
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "crypto/session_keys.h"
#include "dht/presence_record.h"
#include "relay/engine/relay_engine.h"

using namespace pave;

namespace {

void check_at(bool ok, int line) {
    if (ok) return;
    std::fprintf(stderr, "broken promise at fuzz_relay_engine.cpp:%d\n", line);
    __builtin_trap();
}
#define check(ok) check_at((ok), __LINE__)

using ConnId = RelayEngine::ConnId;

class Reader {
public:
    Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    bool empty() const { return i_ >= n_; }
    uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
    uint16_t u16() { return uint16_t(u8() | u8() << 8); }
    Bytes bytes(size_t n) {
        Bytes b;
        while (b.size() < n && !empty()) b.push_back(u8());
        return b;
    }

private:
    const uint8_t* d_;
    size_t n_;
    size_t i_ = 0;
};

const char* kAddrs[] = {"198.51.100.7:4600", "198.51.100.7:4601", "192.0.2.9:4600", "127.0.0.1:4600",
                        "10.2.0.2:4500",     "203.0.113.20:4500", "[2001:db8:7::1]:1", "203.0.113.30:51820"};
Endpoint addr(uint8_t k) { return *Endpoint::parse(kAddrs[k % (sizeof kAddrs / sizeof *kAddrs)]); }
const Endpoint kRelayPub = *Endpoint::parse("203.0.113.20:4500");

struct Host : RelayEngineHost {
    std::map<std::string, uint64_t> sent_to;
    std::vector<std::pair<Endpoint, Bytes>> to_clients;
    std::vector<std::pair<DhtKey, Bytes>> puts;
    std::map<DhtListenToken, DhtKey> listens;
    DhtListenToken next = 0;
    std::set<ConnId> open;
    bool fail_open = false, reply_ok = true;

    void send(const Endpoint& to, ByteView d) override {
        sent_to[to.to_string()] += d.size();
        if (to_clients.size() < 64) to_clients.emplace_back(to, Bytes(d.begin(), d.end()));
    }
    void dht_put(const DhtKey& k, Bytes v) override {
        if (puts.size() < 256) puts.emplace_back(k, std::move(v));
    }
    std::vector<std::pair<DhtKey, Bytes>> announced;
    std::vector<std::pair<DhtKey, uint64_t>> announce_ids;
    uint64_t dht_announce(const DhtKey& k, Bytes v) override {
        if (announced.size() < 256) announced.emplace_back(k, std::move(v));
        if (announce_ids.size() < 256) announce_ids.emplace_back(k, next + 1);
        return ++next;
    }
    void dht_withdraw(const DhtKey&, uint64_t) override {}
    bool dht_connected() override { return true; }
    DhtListenToken dht_listen(const DhtKey& k) override {
        listens[++next] = k;
        return next;
    }
    void dht_cancel_listen(const DhtKey& k, DhtListenToken t) override {
        check(listens.count(t) && listens[t] == k);
        listens.erase(t);
    }
    void event(const EngineEvent&) override {}
    std::string vpn_open(const ConnId& id, const Endpoint&, uint32_t) override {
        check(!open.count(id));
        if (fail_open) return "refused";
        open.insert(id);
        return "";
    }
    void vpn_send(const ConnId& id, ByteView) override { check(open.count(id)); }
    void vpn_close(const ConnId& id) override { check(open.erase(id) == 1); }
    std::vector<std::pair<Endpoint, Bytes>> replies;
    bool send_reply(const Endpoint& to, ByteView d) override {
        if (reply_ok) {
            sent_to[to.to_string()] += d.size();
            if (replies.size() < 64) replies.emplace_back(to, Bytes(d.begin(), d.end()));
        }
        return reply_ok;
    }
    std::vector<Endpoint> own_candidates() override { return {kRelayPub}; }
    std::vector<Endpoint> host_addresses() override { return {*Endpoint::parse("10.2.0.2:0")}; }
};

struct Client {
    Endpoint addr;
    X25519Key eph = X25519Key::generate();
    SealedOffer sealed;
    std::unique_ptr<Session> session;
    std::vector<Bytes> out;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader r(data, size);
    static const Ed25519Key key = Ed25519Key::generate();
    RelayEngineConfig cfg;
    cfg.capacity = 1 + r.u8() % 3;
    cfg.pending_sessions = 1 + r.u8() % 3;
    cfg.per_client_ip = 1 + r.u8() % 2;
    cfg.allow_private_endpoints = r.u8() & 1;
    cfg.offer_queue = 1 + r.u8() % 4;
    cfg.offers_per_second = 1 + r.u8() % 8;
    Host host;
    RelayEngine engine(host, key, cfg, {*Endpoint::parse("10.2.0.2:4500")});
    EngineTime now{std::chrono::steady_clock::time_point{} + std::chrono::hours(1000), 1'700'000'000'000};
    engine.on_tick(now);
    // Storers hold the presence: the relay listens on its inboxes from now on.
    for (const auto& [k, id] : host.announce_ids) engine.on_announce_done(now, k, id, true);

    std::vector<Client> clients;
    std::map<std::string, uint64_t> received_from, credit;
    std::set<std::string> validated;
    auto feed = [&](const Endpoint& from, ByteView d) {
        received_from[from.to_string()] += d.size();
        engine.on_datagram(now, from, d);
    };

    for (int steps = 0; !r.empty() && steps < 400; ++steps) {
        switch (r.u8() % 10) {
            case 0: {  // a genuine offer, fuzzed fields
                if (clients.size() >= 6) break;
                const DhtKey bucket = relay_directory_key(engine.bucket(), 0);
                std::optional<PresenceRecord> rec;
                for (auto it = host.announced.rbegin(); it != host.announced.rend() && !rec; ++it)
                    if (it->first == bucket) rec = decode_presence(it->second).record;
                if (!rec) break;
                Client c;
                c.addr = addr(r.u8());
                Offer o;
                o.session_id[0] = r.u8();
                o.session_id[1] = uint8_t(clients.size());
                o.client_share = c.eph.pub;
                o.candidates = {c.addr};
                o.vpn = addr(r.u8());
                o.timestamp_ms = rendezvous_timestamp_now(now.unix_ms + (r.u8() % 4) * 30000 - 60000);
                auto sealed = seal_offer(o, rec->inbox_pub, key.public_key(), rec->period);
                if (!sealed) break;
                c.sealed = *sealed;
                credit[c.addr.to_string()] += cfg.timers.punch_credit;
                DhtListenToken token = 0;
                const DhtKey k = inbox_shard_key(r.u8() % kInboxShards, engine.period_secs(), rec->period);
                for (const auto& [t, lk] : host.listens)
                    if (lk == k) token = t;
                engine.on_dht_values(now, k, token, {c.sealed.value}, false);
                // The client asks for the answer with a hello, opens it, if one came, and starts punching.
                host.replies.clear();
                feed(c.addr, make_rendezvous_hello(rendezvous_hello_id(c.sealed.answer_key_material)));
                for (const auto& [to, v] : host.replies)
                    if (auto f = parse_rendezvous_frame(v); f && to == c.addr && f->kind == RendezvousFrame::Kind::answer)
                        if (auto a = open_answer(f->sealed, c.eph, c.sealed.answer_key_material); a && a->accepted) {
                            auto ee = x25519_shared(c.eph.priv, a->relay_share);
                            auto keys = ee ? derive_session_keys(c.sealed.answer_key_material, *ee) : std::nullopt;
                            if (keys) {
                                size_t idx = clients.size();
                                c.session = std::make_unique<Session>(
                                    SessionRole::client, *keys, a->candidates, now.mono, SessionTimers{},
                                    [&clients, idx](const Endpoint&, ByteView d) {
                                        if (clients[idx].out.size() < 32) clients[idx].out.emplace_back(d.begin(), d.end());
                                    });
                            }
                        }
                clients.push_back(std::move(c));
                break;
            }
            case 1: {  // junk on the inbox
                const uint64_t p = engine.period_of(now.unix_s());
                const DhtKey k = inbox_shard_key(r.u8() % kInboxShards, engine.period_secs(), p);
                DhtListenToken token = 0;
                for (const auto& [t, lk] : host.listens)
                    if (lk == k) token = t;
                engine.on_dht_values(now, k, token, {r.bytes(r.u8() % 2 ? kRendezvousValueSize : r.u8())}, false);
                break;
            }
            case 2: {  // a client's datagrams: delivered, dropped, or from another address
                if (clients.empty()) break;
                Client& c = clients[r.u8() % clients.size()];
                uint8_t how = r.u8();
                for (auto& d : c.out)
                    if (how % 4 == 0) feed(c.addr, d);
                    else if (how % 4 == 1) feed(addr(how >> 2), d);
                c.out.clear();
                break;
            }
            case 3: {  // what the relay sent, to the clients it was addressed to
                for (auto& [to, d] : host.to_clients)
                    for (auto& c : clients)
                        if (c.session && c.addr == to) c.session->on_control(d, kRelayPub, now.mono);
                host.to_clients.clear();
                break;
            }
            case 4: {  // a stranger's datagram: raw, or WireGuard-shaped
                Bytes d = r.bytes(r.u8());
                if (!d.empty() && (d[0] & 0x80)) {
                    d.resize(d[0] & 1 ? 148 : 32 + (d[0] >> 1 & 0x3f));
                    d[0] = d[0] & 1 ? 1 : 4;
                    d[1] = d[2] = d[3] = 0;
                }
                if (!d.empty() && (d[0] & 0x40) && !clients.empty()) {  // a hello with a known id
                    d = make_rendezvous_hello(rendezvous_hello_id(clients[d[0] % clients.size()].sealed.answer_key_material));
                } else if (!d.empty() && (d[0] & 0x20)) {  // rendezvous-framed garbage of both sizes
                    d.resize(d[0] & 1 ? kRendezvousHelloSize : kRendezvousAnswerFrameSize);
                    d[0] = kRendezvousFrameByte;
                }
                feed(addr(r.u8()), d);
                break;
            }
            case 5: {  // the VPN side of a session
                auto ids = engine.session_ids();
                if (ids.empty()) break;
                const ConnId id = ids[r.u8() % ids.size()];
                if (r.u8() % 4 == 0) {
                    engine.on_vpn_unreachable(now, id);
                } else {
                    Bytes d = r.bytes(r.u8());
                    if (!d.empty() && (d[0] & 0x80)) {
                        d.resize(d[0] & 1 ? 92 : 32 + (d[0] >> 1 & 0x3f));
                        d[0] = d[0] & 1 ? 2 : 4;
                        d[1] = d[2] = d[3] = 0;
                    }
                    engine.on_vpn_datagram(now, id, d);
                }
                break;
            }
            case 6: {  // time
                auto d = std::chrono::milliseconds(1 + r.u16() * (r.u8() % 8 == 0 ? 50 : 1));
                now.mono += d;
                now.unix_ms += uint64_t(d.count());
                for (auto& c : clients)
                    if (c.session && c.session->next_deadline() <= now.mono) c.session->on_timer(now.mono);
                if (engine.next_deadline() <= now.mono) engine.on_tick(now);
                break;
            }
            case 7: engine.on_tick(now); break;
            case 8: host.fail_open = r.u8() & 1; host.reply_ok = r.u8() & 1; break;
            case 9: {  // a STUN binding request (or something close to one)
                Bytes d = r.bytes(20);
                d.resize(20);
                d[0] = 0x00;
                d[1] = 0x01;
                d[2] = d[3] = 0;
                d[4] = 0x21, d[5] = 0x12, d[6] = 0xa4, d[7] = 0x42;
                feed(addr(r.u8()), d);
                break;
            }
        }
        // The promises.
        check(engine.session_count() <= cfg.capacity + cfg.pending_sessions);
        check(engine.admission().established() <= cfg.capacity);
        check(engine.queued_offers() <= cfg.offer_queue);
        for (const auto& id : engine.session_ids()) {
            auto v = engine.session(id);
            check(v->vpn_open == (host.open.count(id) == 1));
            if (v->session.peer()) validated.insert(v->session.peer()->to_string());
        }
        for (const auto& [a, sent] : host.sent_to)
            if (!validated.count(a)) check(sent <= 3 * received_from[a] + credit[a]);
    }
    engine.shutdown(now);
    check(host.open.empty());
    check(engine.answers_held() <= cfg.offer_queue);
    return 0;
}
