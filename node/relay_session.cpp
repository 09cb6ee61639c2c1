#include "node/relay_session.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>

#include "crypto/random.h"
#include "node/log.h"
#include "node/udp_port.h"

namespace pave {

namespace {
thread_local std::array<char, 65536> g_vpn_buf;
}

RelaySession::RelaySession(uv_loop_t* loop, UdpPort& port, SendBatch& to_clients, const SessionKeys& keys,
                           const std::vector<Endpoint>& client_candidates, const Endpoint& vpn,
                           const GateLimits& limits, DestinationLimiter& destinations, const SessionTimers& timers,
                           Clock::time_point now)
    : to_clients_(to_clients),
      vpn_(vpn),
      session_(SessionRole::relay, keys, client_candidates, now, timers,
               [&port](const Endpoint& to, ByteView data) { port.send(data, to); }),
      gate_(limits, destinations, vpn, now),
      loop_(loop) {}

RelaySession::~RelaySession() {
    to_vpn_.flush();  // before the descriptor closes (and its number can be reused)
    to_vpn_.set_fd(-1);
    if (vpn_sock_) {
        uv_udp_recv_stop(vpn_sock_);
        vpn_sock_->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(vpn_sock_), [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
    }
}

// Binds to a port drawn uniformly from kVpnPortMin-65535, retrying on ports in use: the port
// is the one secret a forged answer from the VPN's address must guess (relay/gate.h).
int RelaySession::bind_random_port(uv_udp_t* sock, int family) {
    int rc = UV_EADDRINUSE;
    for (int attempt = 0; attempt < kVpnPortAttempts && rc == UV_EADDRINUSE; ++attempt) {
        const auto port = uint16_t(kVpnPortMin + random_below(65536 - kVpnPortMin));
        sockaddr_storage ss{};
        if (family == AF_INET6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_any;
            a->sin6_port = htons(port);
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_ANY);
            a->sin_port = htons(port);
        }
        rc = uv_udp_bind(sock, reinterpret_cast<const sockaddr*>(&ss), 0);
    }
    return rc;
}

std::string RelaySession::open_vpn_socket(uint32_t fwmark) {
    vpn_sock_ = new uv_udp_t;
    uv_udp_init_ex(loop_, vpn_sock_, vpn_.family());
    vpn_sock_->data = this;
    int rc = bind_random_port(vpn_sock_, vpn_.family());
    if (rc == 0) rc = uv_udp_connect(vpn_sock_, vpn_.sa());
    if (rc == 0 && fwmark) {
        uv_os_fd_t fd;
        uv_fileno(reinterpret_cast<uv_handle_t*>(vpn_sock_), &fd);
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark) != 0) rc = UV_EPERM;
    }
    if (rc == 0)
        rc = uv_udp_recv_start(
            vpn_sock_, [](uv_handle_t*, size_t, uv_buf_t* b) { *b = uv_buf_init(g_vpn_buf.data(), unsigned(g_vpn_buf.size())); },
            &RelaySession::on_vpn_recv);
    if (rc != 0) return std::string("cannot open the socket towards the VPN: ") + uv_strerror(rc);
    uv_os_fd_t fd;
    uv_fileno(reinterpret_cast<uv_handle_t*>(vpn_sock_), &fd);
    to_vpn_.set_fd(fd);
    return "";
}

void RelaySession::on_vpn_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr*, unsigned flags) {
    auto* self = static_cast<RelaySession*>(h->data);
    if (!self) return;
    const bool was_closed = self->gate_.closed();
    // The connected socket reports ICMP port unreachable from the VPN's address.
    if (n == UV_ECONNREFUSED) self->gate_.endpoint_refused(Clock::now());
    if (n > 0 && !(flags & UV_UDP_PARTIAL))
        self->on_vpn_packet(ByteView(reinterpret_cast<const uint8_t*>(buf->base), size_t(n)));
    if (!was_closed && self->gate_.closed() && self->gate_.endpoint_junk() > 0)
        log::info("relay", "session towards VPN {} closed: {} from the endpoint, which is no WireGuard server",
                  log::addr(self->vpn_), n == UV_ECONNREFUSED ? "port unreachable" : "a datagram that is not WireGuard");
}

void RelaySession::on_vpn_packet(ByteView pkt) {
    // A connect()ed socket only receives from the VPN endpoint itself.
    if (session_.state() != SessionState::established || !session_.peer()) return;
    if (gate_.from_endpoint(pkt, Clock::now()) != Gate::Verdict::forward) return;
    to_clients_.add(pkt, *session_.peer());
}

void RelaySession::on_client_wireguard(ByteView pkt, Clock::time_point now) {
    if (gate_.from_client(pkt, now) != Gate::Verdict::forward) return;
    session_.on_data_from_peer(now);
    if (vpn_sock_) to_vpn_.add(pkt, std::nullopt);
}

void RelaySession::on_timer(Clock::time_point now) {
    session_.on_timer(now);
    if (gate_.expired(now)) gate_.close();
}

RelaySession::Clock::time_point RelaySession::next_deadline() const {
    return std::min(session_.next_deadline(), gate_.deadline());
}

bool RelaySession::finished(Clock::time_point now) const {
    auto st = session_.state();
    return st == SessionState::closed || st == SessionState::failed || gate_.closed() || gate_.expired(now);
}

void RelaySession::close(Clock::time_point now) {
    session_.close(0, now);
    gate_.close();
}

}  // namespace pave
