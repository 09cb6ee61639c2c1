#include "node/udp_port.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace pave {

UdpPort::UdpPort(uv_loop_t* loop) : loop_(loop) {}

UdpPort::~UdpPort() { close(); }

std::string UdpPort::open(const Endpoint& bind, uint32_t fwmark) {
    handle_ = new uv_udp_t;
    uv_udp_init_ex(loop_, handle_, bind.family());
    handle_->data = this;
    unsigned flags = bind.family() == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
    int rc = uv_udp_bind(handle_, bind.sa(), flags);
    if (rc != 0) {
        std::string err = "cannot bind UDP " + bind.to_string() + ": " + uv_strerror(rc);
        close();
        return err;
    }
    uv_os_fd_t fd;
    uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd);
    fd_ = fd;
    if (fwmark != 0 && setsockopt(fd_, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark) != 0) {
        std::string err = std::string("cannot set fwmark on UDP socket: ") + std::strerror(errno);
        close();
        return err;
    }
    int size = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    sockaddr_storage ss;
    int len = sizeof ss;
    uv_udp_getsockname(handle_, reinterpret_cast<sockaddr*>(&ss), &len);
    bound_ = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), socklen_t(len)).value_or(bind);
    uv_udp_recv_start(handle_, &UdpPort::on_alloc, &UdpPort::on_recv);
    return "";
}

bool UdpPort::send(ByteView data, const Endpoint& to) const {
    if (fd_ < 0) return false;
    ssize_t n = ::sendto(fd_, data.data(), data.size(), MSG_DONTWAIT, to.sa(), to.sa_len());
    if (n < 0) {
        ++send_errors_;
        return false;
    }
    return true;
}

void UdpPort::close() {
    if (!handle_) return;
    uv_udp_recv_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
    handle_ = nullptr;
    fd_ = -1;
}

void UdpPort::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<UdpPort*>(h->data);
    if (!self) {
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    *buf = uv_buf_init(self->buf_.data(), unsigned(self->buf_.size()));
}

void UdpPort::on_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
    auto* self = static_cast<UdpPort*>(h->data);
    if (!self || n <= 0 || !addr || (flags & UV_UDP_PARTIAL)) return;
    auto from = Endpoint::from_sockaddr(addr, addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    if (!from) return;
    ByteView data(reinterpret_cast<const uint8_t*>(buf->base), size_t(n));
    PacketKind kind = classify(data);
    self->rx_[size_t(kind)]++;
    if (auto& handler = self->handlers_[size_t(kind)]) handler(data, *from);
}

}  // namespace pave
