#include "node/vpn_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>

#include "crypto/random.h"

namespace pave {

namespace {
thread_local std::array<char, 65536> g_vpn_buf;
}

VpnSocket::VpnSocket(uv_loop_t* loop, OnDatagram on_datagram, OnUnreachable on_unreachable)
    : loop_(loop), on_datagram_(std::move(on_datagram)), on_unreachable_(std::move(on_unreachable)) {}

VpnSocket::~VpnSocket() {
    batch_.flush();  // before the descriptor closes (and its number can be reused)
    batch_.set_fd(-1);
    sock_.close();
}

// Binds to a port drawn uniformly from kPortMin-65535, retrying on ports in use: the port is
// the one secret a forged answer from the VPN's address must guess (relay/gate.h).
int VpnSocket::bind_random_port(uv_udp_t* sock, int family) {
    int rc = UV_EADDRINUSE;
    for (int attempt = 0; attempt < kPortAttempts && rc == UV_EADDRINUSE; ++attempt) {
        const auto port = uint16_t(kPortMin + random_below(65536 - kPortMin));
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

std::string VpnSocket::open(const Endpoint& vpn, uint32_t fwmark) {
    if (sock_) return "the socket towards the VPN is already open";
    uv_udp_init_ex(loop_, sock_.create(), vpn.family());
    sock_->data = this;
    int rc = bind_random_port(sock_, vpn.family());
    if (rc == 0) rc = uv_udp_connect(sock_, vpn.sa());
    if (rc == 0 && fwmark) {
        uv_os_fd_t fd;
        uv_fileno(sock_.handle(), &fd);
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark) != 0) rc = UV_EPERM;
    }
    if (rc == 0)
        rc = uv_udp_recv_start(
            sock_, [](uv_handle_t*, size_t, uv_buf_t* b) { *b = uv_buf_init(g_vpn_buf.data(), unsigned(g_vpn_buf.size())); },
            &VpnSocket::on_recv);
    if (rc != 0) return std::string("cannot open the socket towards the VPN: ") + uv_strerror(rc);
    uv_os_fd_t fd;
    uv_fileno(sock_.handle(), &fd);
    batch_.set_fd(fd);
    return "";
}

void VpnSocket::on_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr*, unsigned flags) {
    auto* self = static_cast<VpnSocket*>(h->data);
    if (!self) return;
    // The connected socket reports ICMP port unreachable from the VPN's address.
    if (n == UV_ECONNREFUSED) self->on_unreachable_();
    else if (n > 0 && !(flags & UV_UDP_PARTIAL))
        self->on_datagram_(ByteView(reinterpret_cast<const uint8_t*>(buf->base), size_t(n)));
}

}  // namespace pave
