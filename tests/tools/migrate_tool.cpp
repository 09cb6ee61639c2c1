// Test tool: a client that names a WireGuard keypair to a relay (a KEYPAIR frame) without ever
// having had one, and streams transport-shaped data on it: what an attacker who wants a relay
// to carry data to a host that is no WireGuard server can do with keypair migration.
//
//   pave-migrate-tool --network-id N --bootstrap HOST:PORT --relay RELAY_ID --vpn IP:PORT
//       --bind IP:PORT --candidate IP:PORT [--sessions K] [--claims C:V[,C:V...]]
//       [--packets N] [--size BYTES] [--rate PER_S] [--hold SECONDS] [--found FILE]
//       [--after-found M]
//
// It reads the presence record of the relay whose node id starts with RELAY_ID, and opens K
// sessions to it as `pave connect` does (a sealed offer naming VPN and the candidate, hellos,
// the answer, punching, path validation), session k on local port PORT+k with the candidate's
// port + k (a port-preserving NAT). Then, for each claim C:V in turn, every session sends a
// KEYPAIR frame (client index C, VPN index V) and N transport messages of BYTES bytes (type 4,
// receiver index V, counter, filler) at PER_S datagrams a second over all sessions; the frame
// goes again every 100 ms while data flows, as the client engine does. Datagrams from the
// relay are counted; a transport message addressed to C (the relay unlocked the session on
// it) writes its counter field to FILE (the spoofed sweep puts the relay's port there), ends
// the claims' data, and M transport messages of 1,440 bytes go on the unlocked keypair at
// 2,500 a second.
// It prints one JSON line with what it sent and received.
//
// Only for tests: it talks to the bootstrap and relay it is given (loopback or a test namespace).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <opendht.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/random.h"
#include "crypto/session_keys.h"
#include "crypto/x25519.h"
#include "dht/bucket_keys.h"
#include "dht/inbox_keys.h"
#include "dht/presence_record.h"
#include "dht/rendezvous_blob.h"
#include "relay/session.h"
#include "relay/wire/demux.h"
#include "relay/wire/rendezvous_frame.h"
#include "relay/wire/wireguard_shape.h"

using namespace pave;
using Clock = std::chrono::steady_clock;

namespace {

uint64_t unix_ms() {
    return uint64_t(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::optional<PresenceRecord> find_relay(dht::DhtRunner& r, const std::string& prefix) {
    std::optional<PresenceRecord> best;
    for (unsigned b = 0; b < kRelayBuckets; ++b) {
        DhtKey key = relay_directory_key(b, unsigned(random_below(kBucketReplicas)));
        for (const auto& v : r.get(dht::InfoHash(key.data(), key.size())).get()) {
            auto p = decode_and_verify_presence(ByteView(v->data.data(), v->data.size()));
            if (!p.record || p.record->expires * 1000 < unix_ms()) continue;
            if (node_id(p.record->node_pub).rfind(prefix, 0) != 0) continue;
            // A record naming the relay's addresses, the newest of those (the first record a relay
            // publishes may precede its learning them).
            if (!best || (best->endpoints.empty() && !p.record->endpoints.empty()) ||
                (p.record->period > best->period && !p.record->endpoints.empty()))
                best = p.record;
        }
    }
    return best;
}

struct Claim {
    uint32_t client_index, vpn_index;
};

// One client session: its socket, the offer until answered, then the Session.
struct Client {
    int fd = -1;
    Endpoint local;
    X25519Key eph = X25519Key::generate();
    ByteArray<16> session_id{};
    Bytes answer_material;
    HelloId hello_id{};
    Clock::time_point next_hello{};
    std::unique_ptr<Session> session;
    uint64_t counter = 0;
    Clock::time_point keypair_sent{};
};

void send_to(int fd, const Endpoint& to, ByteView d) {
    (void)::sendto(fd, d.data(), d.size(), 0, to.sa(), to.sa_len());
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t netid = 0;
    std::string bootstrap, relay_prefix, found_file;
    std::optional<Endpoint> vpn, bind, candidate;
    unsigned sessions = 1, packets = 32, after_found = 0;
    size_t size = 512;
    double rate = 100, hold = 1;
    std::vector<Claim> claims{{0x11111111, 0x22222222}};
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--network-id") netid = uint32_t(std::stoul(v));
        else if (k == "--bootstrap") bootstrap = v;
        else if (k == "--relay") relay_prefix = v;
        else if (k == "--vpn") vpn = Endpoint::parse(v);
        else if (k == "--bind") bind = Endpoint::parse(v);
        else if (k == "--candidate") candidate = Endpoint::parse(v);
        else if (k == "--sessions") sessions = unsigned(std::stoul(v));
        else if (k == "--packets") packets = unsigned(std::stoul(v));
        else if (k == "--size") size = std::stoul(v);
        else if (k == "--rate") rate = std::stod(v);
        else if (k == "--hold") hold = std::stod(v);
        else if (k == "--found") found_file = v;
        else if (k == "--after-found") after_found = unsigned(std::stoul(v));
        else if (k == "--claims") {
            claims.clear();
            size_t pos = 0;
            while (pos < v.size()) {
                size_t comma = v.find(',', pos);
                std::string c = v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
                size_t colon = c.find(':');
                if (colon == std::string::npos) {
                    std::cerr << "a claim is CLIENT_INDEX:VPN_INDEX\n";
                    return 2;
                }
                claims.push_back({uint32_t(std::stoul(c.substr(0, colon), nullptr, 0)),
                                  uint32_t(std::stoul(c.substr(colon + 1), nullptr, 0))});
                pos = comma == std::string::npos ? v.size() : comma + 1;
            }
        } else {
            std::cerr << "unknown option " << k << "\n";
            return 2;
        }
    }
    if (!netid || bootstrap.empty() || relay_prefix.empty() || !vpn || !bind || !candidate || sessions == 0 ||
        sessions > 16 || size < 32 || size > 1500 || !(rate > 0) || claims.empty()) {
        std::cerr << "usage: pave-migrate-tool --network-id N --bootstrap HOST:PORT --relay ID --vpn IP:PORT "
                     "--bind IP:PORT --candidate IP:PORT [--sessions K] [--claims C:V,...] [--packets N] "
                     "[--size BYTES] [--rate PER_S] [--hold S] [--found FILE]\n";
        return 2;
    }

    dht::DhtRunner runner;
    dht::DhtRunner::Config cfg;
    cfg.dht_config.node_config.network = netid;
    cfg.threaded = true;
    runner.run(cfg, {});
    auto colon = bootstrap.rfind(':');
    runner.bootstrap(bootstrap.substr(0, colon), bootstrap.substr(colon + 1));
    for (int t = 0; t < 100 && runner.getNodesStats(AF_INET).good_nodes == 0; ++t)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::optional<PresenceRecord> rec;
    for (int t = 0; t < 50 && !((rec = find_relay(runner, relay_prefix)) && !rec->endpoints.empty()); ++t)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!rec || rec->endpoints.empty()) {
        std::cerr << "relay " << relay_prefix << " not in the directory (or its record names no address)\n";
        return 1;
    }

    const auto t0 = Clock::now();
    std::vector<Client> clients(sessions);
    for (unsigned k = 0; k < sessions; ++k) {
        Client& c = clients[k];
        c.fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        c.local = *Endpoint::parse(bind->ip_string() + ":" + std::to_string(bind->port() + k));
        if (c.fd < 0 || ::bind(c.fd, c.local.sa(), c.local.sa_len()) != 0) {
            std::cerr << "cannot bind " << c.local.to_string() << ": " << std::strerror(errno) << "\n";
            return 1;
        }
        Offer o;
        random_bytes(o.session_id);
        c.session_id = o.session_id;
        o.client_share = c.eph.pub;
        o.candidates = {*Endpoint::parse(candidate->ip_string() + ":" + std::to_string(candidate->port() + k))};
        o.vpn = *vpn;
        o.timestamp_ms = rendezvous_timestamp_now(unix_ms());
        auto sealed = seal_offer(o, rec->inbox_pub, rec->node_pub, rec->period);
        if (!sealed) return 1;
        c.answer_material = sealed->answer_key_material;
        c.hello_id = rendezvous_hello_id(c.answer_material);
        DhtKey key = inbox_shard_key(unsigned(random_below(kInboxShards)), rec->period_secs, rec->period);
        dht::Value val(sealed->value.data(), sealed->value.size());
        val.id = random_u64();
        runner.put(dht::InfoHash(key.data(), key.size()), std::move(val));
    }

    // Everything from here on runs on this thread: the sessions, the data, the reception.
    uint64_t keypair_frames = 0, sent_packets = 0, sent_bytes = 0, recv_wg = 0, recv_wg_bytes = 0;
    std::optional<uint64_t> found;
    auto pump = [&](Clock::time_point until) {
        std::vector<pollfd> pfds;
        for (auto& c : clients) pfds.push_back({c.fd, POLLIN, 0});
        for (;;) {
            const auto now = Clock::now();
            for (auto& c : clients) {
                if (!c.session && now >= c.next_hello) {
                    for (const auto& e : rec->endpoints) send_to(c.fd, e, make_rendezvous_hello(c.hello_id));
                    c.next_hello = now + std::chrono::milliseconds(100);
                }
                if (c.session && now >= c.session->next_deadline()) c.session->on_timer(now);
            }
            if (now >= until) return;
            auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
            if (::poll(pfds.data(), pfds.size(), int(std::min<long long>(wait, 10))) <= 0) continue;
            for (size_t k = 0; k < clients.size(); ++k) {
                if (!(pfds[k].revents & POLLIN)) continue;
                Client& c = clients[k];
                uint8_t buf[2048];
                sockaddr_storage ss{};
                socklen_t sl = sizeof ss;
                ssize_t n = ::recvfrom(c.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &sl);
                if (n <= 0) continue;
                auto from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
                if (!from) continue;
                ByteView d(buf, size_t(n));
                switch (classify(d)) {
                    case PacketKind::rendezvous: {
                        auto f = parse_rendezvous_frame(d);
                        if (c.session || !f || f->kind != RendezvousFrame::Kind::answer || f->id != c.hello_id) break;
                        auto a = open_answer(f->sealed, c.eph, c.answer_material);
                        if (!a || a->session_id != c.session_id || !a->accepted || a->candidates.empty()) {
                            if (a && !a->accepted) std::cerr << "refused: " << a->refuse_reason << "\n";
                            break;
                        }
                        auto ee = x25519_shared(c.eph.priv, a->relay_share);
                        if (!ee) break;
                        auto keys = derive_session_keys(c.answer_material, *ee);
                        if (!keys) break;
                        const int fd = c.fd;
                        c.session = std::make_unique<Session>(SessionRole::client, *keys, a->candidates, Clock::now(),
                                                              SessionTimers{},
                                                              [fd](const Endpoint& to, ByteView b) { send_to(fd, to, b); });
                        break;
                    }
                    case PacketKind::control:
                        if (c.session) c.session->on_control(d, *from, Clock::now());
                        break;
                    case PacketKind::wireguard: {
                        ++recv_wg;
                        recv_wg_bytes += d.size();
                        auto m = parse_wireguard(d);
                        if (!m || m->type != WgType::transport) break;
                        for (const auto& cl : claims)
                            if (m->receiver_index == cl.client_index && !found) {
                                found = m->counter;
                                if (!found_file.empty()) std::ofstream(found_file) << *found << "\n";
                            }
                        break;
                    }
                    default: break;
                }
            }
        }
    };

    // Until every session is established (or 20 s).
    auto established = [&] {
        unsigned n = 0;
        for (auto& c : clients) n += c.session && c.session->state() == SessionState::established && c.session->peer();
        return n;
    };
    const auto setup_deadline = Clock::now() + std::chrono::seconds(20);
    while (established() < sessions && Clock::now() < setup_deadline)
        pump(std::min(setup_deadline, Clock::now() + std::chrono::milliseconds(50)));
    const unsigned up = established();
    const double setup_s = std::chrono::duration<double>(Clock::now() - t0).count();

    const auto gap = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
    auto next = Clock::now();
    size_t turn = 0;
    for (const auto& cl : claims) {
        for (auto& c : clients)
            if (c.session && c.session->send_keypair(KeypairFrame{cl.client_index, cl.vpn_index}, Clock::now())) {
                ++keypair_frames;
                c.keypair_sent = Clock::now();
            }
        for (unsigned p = 0; p < packets * sessions && !found; ++p) {
            pump(next);
            next += gap;
            Client& c = clients[turn++ % clients.size()];
            if (!c.session || !c.session->peer()) continue;
            if (Clock::now() - c.keypair_sent >= std::chrono::milliseconds(100) && !found &&
                c.session->send_keypair(KeypairFrame{cl.client_index, cl.vpn_index}, Clock::now())) {
                ++keypair_frames;
                c.keypair_sent = Clock::now();
            }
            Bytes msg(size, 0xa5);
            msg[0] = 4;
            msg[1] = msg[2] = msg[3] = 0;
            for (int b = 0; b < 4; ++b) msg[4 + b] = uint8_t(cl.vpn_index >> (8 * b));
            for (int b = 0; b < 8; ++b) msg[8 + b] = uint8_t(c.counter >> (8 * b));
            ++c.counter;
            send_to(c.fd, *c.session->peer(), msg);
            ++sent_packets;
            sent_bytes += size;
        }
    }
    // The unlocked keypair: what it carries now.
    const uint64_t claim_sent_packets = sent_packets, claim_sent_bytes = sent_bytes;
    next = Clock::now();
    for (unsigned p = 0; found && p < after_found; ++p) {
        pump(next);
        next += std::chrono::microseconds(400);
        for (auto& c : clients) {
            if (!c.session || !c.session->peer()) continue;
            Bytes msg(1440, 0x5a);
            msg[0] = 4;
            msg[1] = msg[2] = msg[3] = 0;
            for (int b = 0; b < 4; ++b) msg[4 + b] = uint8_t(claims.back().vpn_index >> (8 * b));
            for (int b = 0; b < 8; ++b) msg[8 + b] = uint8_t(c.counter >> (8 * b));
            ++c.counter;
            send_to(c.fd, *c.session->peer(), msg);
            ++sent_packets;
            sent_bytes += msg.size();
        }
    }
    pump(Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(hold)));
    for (auto& c : clients)
        if (c.session) c.session->close(0, Clock::now());

    std::cout << "{\"sessions\": " << up << ", \"setup_s\": " << setup_s << ", \"keypair_frames\": " << keypair_frames
              << ", \"sent_packets\": " << sent_packets << ", \"sent_bytes\": " << sent_bytes
              << ", \"claim_sent_packets\": " << claim_sent_packets << ", \"claim_sent_bytes\": " << claim_sent_bytes
              << ", \"received_wg\": " << recv_wg << ", \"received_wg_bytes\": " << recv_wg_bytes
              << ", \"found\": " << (found ? std::to_string(*found) : std::string("null"))
              << ", \"seconds\": " << std::chrono::duration<double>(Clock::now() - t0).count() << "}" << std::endl;
    for (auto& c : clients) ::close(c.fd);
    runner.shutdown();
    runner.join();
    return up == sessions ? 0 : 3;
}
