// Fuzzes the relay gate: arbitrary byte streams, split into packets and fed alternately to two
// sessions sharing one destination budget and one forwarding capacity, from either side, under
// a fake clock. A model kept beside the gates checks its promises after every packet (answer
// window, lapse bucket, fair share, closing on a non-WireGuard endpoint); any broken promise aborts.
#include <map>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "relay/wire/endpoint_policy.h"
#include "relay/gate.h"
#include "relay/wire/wireguard_shape.h"

using namespace pave;
using V = Gate::Verdict;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void fail() { __builtin_trap(); }
void check_at(bool ok, int line) {
    if (ok) return;
    std::fprintf(stderr, "broken promise at fuzz_gate.cpp:%d\n", line);
    fail();
}
#define check(ok) check_at((ok), __LINE__)

class Reader {
public:
    Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    bool empty() const { return i_ >= n_; }
    uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
    uint32_t u32() { return uint32_t(u8()) | uint32_t(u8()) << 8 | uint32_t(u8()) << 16 | uint32_t(u8()) << 24; }
    Bytes take(size_t n) {
        n = std::min(n, n_ - std::min(i_, n_));
        Bytes b(d_ + i_, d_ + i_ + n);
        i_ += n;
        return b;
    }

private:
    const uint8_t* d_;
    size_t n_;
    size_t i_ = 0;
};

void put_le32(Bytes& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

struct Model {
    std::set<uint32_t> client_inits;  // sender indices of every client initiation forwarded
    uint32_t last_client_sender = 0;  // for synthesising matching answers
    uint32_t last_endpoint_sender = 0;
    uint64_t client_inits_forwarded = 0;
    uint64_t endpoint_inits_forwarded = 0;
    uint64_t calls = 0;
    Clock::time_point first_client_init{};
    Clock::time_point first_endpoint_init{};
    std::map<uint32_t, Clock::time_point> client_sent_at;    // latest client initiation/response per index
    std::map<uint32_t, Clock::time_point> endpoint_sent_at;  // latest endpoint initiation/response per index
    bool endpoint_heard = false;
    Clock::time_point endpoint_heard_at{};
    uint64_t lapse_bytes = 0;      // client transport forwarded while the endpoint was not heard
    uint64_t transport_bytes = 0;  // transport forwarded, both ways
    // Keypair claims (migration): accepted distinct claims, their client indices, and what the
    // locked gate forwarded on them.
    bool claimed = false;
    uint32_t claims = 0;
    std::pair<uint32_t, uint32_t> last_claim{};
    std::set<uint32_t> claimed_client_indices;
    std::set<uint32_t> claimed_vpn_indices;
    uint64_t claim_bytes = 0, claim_packets = 0;
    Bytes last_forwarded_from_client;  // for an endpoint that echoes what it received
};

// The latest time a handshake message with this index crossed (clocks may step back).
void record(std::map<uint32_t, Clock::time_point>& sent, uint32_t index, Clock::time_point now) {
    auto [it, fresh] = sent.emplace(index, now);
    if (!fresh) it->second = std::max(it->second, now);
}

// An answer forwarded at `now` must answer a message sent at most `window` earlier.
bool in_window(const std::map<uint32_t, Clock::time_point>& sent, uint32_t index, Clock::time_point now,
               Clock::duration window) {
    auto it = sent.find(index);
    return it != sent.end() && (now <= it->second || now - it->second <= window);
}

constexpr double kDestBurst = 10, kDestRate = 2;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader in(data, size);
    GateLimits lim;
    const uint8_t cfg = in.u8();
    const double capacity = (cfg & 1) ? 1000.0 * (1 + (cfg >> 4)) : ForwardShare::kDefaultBytesPerS;
    lim.share = std::make_shared<ForwardShare>(capacity);
    if (cfg & 2) lim.answer_window = std::chrono::milliseconds(100 * (1 + (cfg >> 4)));
    if (cfg & 4) lim.handshake_timeout = std::chrono::seconds(5);
    if (cfg & 8) lim.idle_timeout = std::chrono::seconds(20);

    const auto vpn = *Endpoint::parse("198.51.100.10:51820");
    DestinationLimiter dest(kDestBurst, kDestRate, 8);
    const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
    Clock::time_point now = t0, latest = t0;
    Gate gates[2] = {Gate(lim, dest, vpn, t0), Gate(lim, dest, vpn, t0)};
    Model models[2];
    uint64_t locked_client_inits = 0;  // both gates, towards the shared destination
    Clock::time_point first_locked_init{};

    while (!in.empty()) {
        const uint8_t op = in.u8();
        const bool from_client = !(op & 1);
        const size_t gi = (op >> 1) & 1;
        Gate& g = gates[gi];
        Model& m = models[gi];

        switch ((op >> 2) & 3) {
        case 1: now += std::chrono::milliseconds(10 * in.u8()); break;
        case 2: now += std::chrono::seconds(in.u8()); break;
        case 3: now -= std::chrono::milliseconds(in.u8()); break;  // clocks may step back
        default: break;
        }
        latest = std::max(latest, now);

        Bytes pkt;
        bool is_echo = false;
        const uint8_t mode = op >> 4;
        if (mode < 4) {
            static constexpr size_t kLen[4] = {148, 92, 64, 32};
            size_t len = kLen[mode];
            if (mode == 3) len += 16 * (in.u8() % 8);
            pkt.assign(len, 0);
            pkt[0] = uint8_t(mode + 1);
            const uint32_t a = in.u32();
            if (mode == 0 || mode == 1) put_le32(pkt, 4, a);
            // Answers: either arbitrary or aimed at the latest handshake from the other side.
            const bool aim = in.u8() & 1;
            const uint32_t target = from_client ? m.last_endpoint_sender : m.last_client_sender;
            if (mode == 1) put_le32(pkt, 8, aim ? target : in.u32());
            if (mode == 2 || mode == 3) put_le32(pkt, 4, aim ? target : a);
        } else if (mode == 15) {
            g.close();
            continue;
        } else if (mode == 13 && (op & 1)) {
            // An endpoint that echoes the latest datagram the client made cross (RFC 862 echo).
            pkt = m.last_forwarded_from_client;
            if (pkt.empty()) continue;
            is_echo = true;
        } else if (mode == 13 && !(op & 1)) {
            // The client names a keypair: arbitrary, or the latest senders of each side.
            const bool aim = in.u8() & 1;
            const uint32_t ci = aim ? m.last_client_sender : in.u32();
            const uint32_t vi = aim ? m.last_endpoint_sender : in.u32();
            const bool locked = !g.unlocked() && !g.closed();
            const bool echo_index = m.claimed_vpn_indices.count(ci) != 0 && m.last_claim != std::pair{ci, vi};
            const Gate::Claim c = g.claim_keypair(ci, vi, now);
            if (c == Gate::Claim::accepted) {
                check(locked && ci != vi && !echo_index);
                m.claimed_vpn_indices.insert(vi);
                if (!m.claimed || m.last_claim != std::pair{ci, vi}) {
                    ++m.claims;
                    if (locked_client_inits++ == 0) first_locked_init = now;  // a destination token
                }
                m.claimed = true;
                m.last_claim = {ci, vi};
                m.claimed_client_indices.insert(ci);
            }
            check(m.claims <= Gate::kMaxClaims);
            if (c == Gate::Claim::same_index) check(ci == vi || echo_index);
            continue;
        } else if (mode == 14 && (op & 1)) {
            const bool locked = !g.unlocked(), was_closed = g.closed();
            const uint32_t junk = g.endpoint_junk();
            g.endpoint_refused(now);
            if (locked && !was_closed) check(g.endpoint_junk() == junk + 1);
            if (g.endpoint_junk() >= Gate::kMaxEndpointJunk) check(g.closed());
            continue;
        } else {
            pkt = in.take(mode < 12 ? in.u8() : size_t(in.u8()) << 4 | in.u8());
        }

        const bool was_unlocked = g.unlocked();
        const bool was_closed = g.closed();
        const uint32_t junk_before = g.endpoint_junk();
        const V v = from_client ? g.from_client(pkt, now) : g.from_endpoint(pkt, now);
        m.calls++;
        const auto msg = parse_wireguard(pkt);

        if (was_closed) check(v == V::drop_closed);
        if (v == V::drop_closed) check(g.closed());
        if (v == V::forward) {
            check(msg.has_value());  // never forward a packet that is not WireGuard-shaped
            if (from_client) m.last_forwarded_from_client = pkt;
            if (from_client) {
                if (!was_unlocked) {
                    check(msg->type == WgType::initiation || (msg->type == WgType::transport && m.claimed));
                    if (msg->type == WgType::transport) {
                        check(msg->receiver_index == m.last_claim.second);
                        m.claim_bytes += pkt.size();
                        ++m.claim_packets;
                        // The migration budget: a target that never answers gets no more.
                        check(m.claim_bytes <= Gate::kClaimBudgetBytes);
                        check(m.claim_packets <= Gate::kClaimBudgetPackets);
                        // Both sessions together: the destination's claimed-data budget.
                        check(double(models[0].claim_bytes + models[1].claim_bytes) <=
                              DestinationLimiter::kClaimedBurstBytes +
                                  DestinationLimiter::kClaimedBytesPerSecond *
                                      std::chrono::duration<double>(latest - t0).count() + 1);
                    }
                }
                if (msg->type == WgType::initiation) {
                    if (m.client_inits_forwarded++ == 0) m.first_client_init = now;
                    m.client_inits.insert(msg->sender_index);
                    m.last_client_sender = msg->sender_index;
                    if (!was_unlocked && locked_client_inits++ == 0) first_locked_init = now;
                }
                if (msg->type == WgType::response) {
                    m.last_client_sender = msg->sender_index;
                    check(in_window(m.endpoint_sent_at, msg->receiver_index, now, lim.answer_window));
                }
                if (msg->type == WgType::cookie_reply)
                    check(in_window(m.endpoint_sent_at, msg->receiver_index, now, lim.answer_window));
                if (msg->type == WgType::initiation || msg->type == WgType::response)
                    record(m.client_sent_at, msg->sender_index, now);
                if (msg->type == WgType::transport) {
                    m.transport_bytes += pkt.size();
                    const bool live = m.endpoint_heard && now <= m.endpoint_heard_at + Gate::kLiveness;
                    if (!live) m.lapse_bytes += pkt.size();
                    // The lapse bucket: full at the start, refilled at its rate, never more.
                    check(double(m.lapse_bytes) <=
                          Gate::kLapseBurst + Gate::kLapseRate * std::chrono::duration<double>(latest - t0).count() + 1);
                }
            } else {
                if (!was_unlocked && msg->type == WgType::transport) {
                    // Unlocked by the endpoint's data on a claimed keypair, after claimed data.
                    check(m.claimed && m.claim_packets > 0 && g.unlocked() && g.unlocked_by_claim());
                    check(m.claimed_client_indices.count(msg->receiver_index) == 1);
                } else if (!was_unlocked) {
                    check(msg->type == WgType::response || msg->type == WgType::cookie_reply);
                    check(m.client_inits.count(msg->receiver_index) == 1);
                }
                if (msg->type == WgType::initiation) {
                    check(was_unlocked);
                    if (m.endpoint_inits_forwarded++ == 0) m.first_endpoint_init = now;
                }
                if (msg->type == WgType::initiation || msg->type == WgType::response)
                    m.last_endpoint_sender = msg->sender_index;
                if (msg->type == WgType::response || msg->type == WgType::cookie_reply)
                    check(in_window(m.client_sent_at, msg->receiver_index, now, lim.answer_window));
                if (msg->type == WgType::initiation || msg->type == WgType::response)
                    record(m.endpoint_sent_at, msg->sender_index, now);
                if (msg->type == WgType::transport) {
                    m.transport_bytes += pkt.size();
                    m.endpoint_heard = true;
                    m.endpoint_heard_at = std::max(m.endpoint_heard_at, now);
                }
            }
            // The fair share: a session never beats the relay's capacity by more than its first bucket.
            const double elapsed = std::chrono::duration<double>(latest - t0).count();
            check(double(m.transport_bytes) <= Gate::kShareMinBurst + capacity * elapsed + 1);
        } else if (!msg && v != V::drop_closed) {
            check(v == V::drop_not_wireguard);
        }
        // A locked session closes once its endpoint sent kMaxEndpointJunk non-WireGuard datagrams.
        if (!from_client && v == V::drop_not_wireguard && !was_unlocked) check(g.endpoint_junk() == junk_before + 1);
        if (!was_unlocked && g.endpoint_junk() >= Gate::kMaxEndpointJunk) check(g.closed());
        if (v == V::drop_late_answer) check(msg && (msg->type == WgType::response || msg->type == WgType::cookie_reply));
        if (v == V::drop_no_return) check(msg && msg->type == WgType::transport && was_unlocked);
        if (v == V::drop_share) check(msg && msg->type == WgType::transport && (was_unlocked || m.claimed));
        if (v == V::drop_claim_budget) check(from_client && !was_unlocked && m.claimed);
        // The gate unlocks only on a forwarded endpoint response answering a client initiation,
        // or on the endpoint's data on a claimed keypair.
        if (!was_unlocked && g.unlocked()) {
            check(v == V::forward && !from_client && msg);
            if (msg->type == WgType::transport)
                check(m.claimed_client_indices.count(msg->receiver_index) == 1);
            else
                check(msg->type == WgType::response && m.client_inits.count(msg->receiver_index) == 1);
        }
        check(!(was_unlocked && !g.unlocked()));
        // An echo never unlocks a session, whatever claims came before it.
        if (is_echo && !was_unlocked) check(!g.unlocked());
        // No amplification while locked (the unlocking response included).
        // With a claim, the one unlocking datagram may be larger than what crossed before it.
        if (!was_unlocked) {
            check(g.packets_to_client() <= g.packets_to_endpoint());
            const bool by_claim = g.unlocked_by_claim() && v == V::forward;
            check(g.bytes_to_client() <= g.bytes_to_endpoint() + (by_claim ? pkt.size() : 0));
            if (g.packets_to_client() > 0 && !by_claim) check(g.bytes_to_client() < g.bytes_to_endpoint());
        }
        // Every packet got exactly one verdict.
        uint64_t total = 0;
        for (uint64_t c : g.counts()) total += c;
        check(total == m.calls);
        check(g.count(V::forward) == g.packets_to_client() + g.packets_to_endpoint());
        // Rate limits: never more than the burst plus what the elapsed time refills.
        auto refill = [&](Clock::time_point since, double rate) {
            return rate * std::chrono::duration<double>(latest - since).count() + 1e-6;
        };
        if (m.client_inits_forwarded > 0)
            check(double(m.client_inits_forwarded) <= lim.init_burst + refill(m.first_client_init, lim.init_rate));
        if (m.endpoint_inits_forwarded > 0)
            check(double(m.endpoint_inits_forwarded) <= lim.init_burst + refill(m.first_endpoint_init, lim.init_rate));
        if (locked_client_inits > 0)
            check(double(locked_client_inits) <= kDestBurst + refill(first_locked_init, kDestRate));
        check(dest.size() <= 8);
    }
    // Sessions expire: far in the future every gate is done and forwards nothing.
    const auto far = latest + std::chrono::hours(24);
    for (Gate& g : gates) {
        check(g.expired(far));
        Bytes keepalive(32, 0);
        keepalive[0] = 4;
        check(g.from_client(keepalive, far) != V::forward);
        check(g.from_endpoint(keepalive, far) != V::forward);
    }
    // The endpoint policy never throws and never calls an own address anything but own.
    if (size >= 18) {
        auto e = Endpoint::from_ip_bytes(ByteView(data, size >= 19 && (data[18] & 1) ? 16 : 4),
                                         uint16_t(data[16] | data[17] << 8));
        if (e) {
            check(check_endpoint(*e, {*e}, true) == EndpointVerdict::own_address || e->port() == 0);
            const auto strict = check_endpoint(*e, {}, false);
            const auto lax = check_endpoint(*e, {}, true);
            if (strict == EndpointVerdict::ok) check(lax == EndpointVerdict::ok);
            if (strict == EndpointVerdict::multicast || strict == EndpointVerdict::broadcast ||
                strict == EndpointVerdict::unspecified || strict == EndpointVerdict::reserved ||
                strict == EndpointVerdict::port_zero)
                check(lax == strict);
        }
    }
    return 0;
}
