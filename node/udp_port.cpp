#include "node/udp_port.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dht/dht_wire.h"

namespace pave {

UdpPort::UdpPort(uv_loop_t* loop) : loop_(loop) {}

UdpPort::~UdpPort() { close(); }

std::string UdpPort::open(const Endpoint& bind, uint32_t fwmark) {
    uv_udp_init_ex(loop_, handle_.create(), bind.family());
    handle_->data = this;
    unsigned flags = bind.family() == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
    int rc = uv_udp_bind(handle_, bind.sa(), flags);
    if (rc != 0) {
        std::string err = "cannot bind UDP " + bind.to_string() + ": " + uv_strerror(rc);
        close();
        return err;
    }
    uv_os_fd_t fd;
    uv_fileno(handle_.handle(), &fd);
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

bool UdpPort::send_guarded(ByteView data, const Endpoint& to, AmplificationGuard::Traffic traffic) {
    auto plan = guard_.plan_send(to, data, traffic, AmplificationGuard::Clock::now());
    if (plan.challenge) send(*plan.challenge, to);
    return plan.action == AmplificationGuard::Action::send && send(data, to);
}

int UdpPort::send_dht(ByteView data, const Endpoint& to) {
    auto info = inspect_dht_message(data);
    auto traffic = AmplificationGuard::Traffic::reply;  // anything unreadable: the strict rule
    if (info && info->kind == DhtMessageKind::request) {
        traffic = AmplificationGuard::Traffic::request;
        if (info->tid) guard_.on_request_tid(to, *info->tid, AmplificationGuard::Clock::now());
    }
    auto plan = guard_.plan_send(to, data, traffic, AmplificationGuard::Clock::now());
    if (plan.challenge) send(*plan.challenge, to);
    if (plan.action != AmplificationGuard::Action::send) return 0;
    if (fd_ < 0) return EBADF;
    if (::sendto(fd_, data.data(), data.size(), MSG_DONTWAIT, to.sa(), to.sa_len()) < 0) {
        int err = errno;
        ++send_errors_;
        return err;
    }
    return 0;
}

void UdpPort::send_flush(const std::optional<AmplificationGuard::Flush>& f) const {
    if (!f) return;
    for (const auto& d : f->datagrams) send(d, f->to);
}

void UdpPort::tick() { guard_.expire(AmplificationGuard::Clock::now()); }

// DHT, STUN, address checks and rendezvous hellos count towards the sender's budget; a DHT datagram from an
// unvalidated address may be answered with a challenge, and a reply that echoes one of our
// transaction ids validates its sender.
void UdpPort::on_guarded_receive(PacketKind kind, ByteView data, const Endpoint& from) {
    auto now = AmplificationGuard::Clock::now();
    if (auto c = guard_.on_received(from, data.size(), now, kind == PacketKind::dht)) send(*c, from);
    if (kind == PacketKind::address_check) {
        auto m = parse_address_check(data);
        if (!m) {
            ++checks_malformed_;
            return;
        }
        auto plan = guard_.on_check(from, *m, now);
        if (plan.answer) send(*plan.answer, from);
        send_flush(plan.flush);
        return;
    }
    if (kind == PacketKind::dht) {
        auto info = inspect_dht_message(data);
        if (info && info->tid && (info->kind == DhtMessageKind::reply || info->kind == DhtMessageKind::error))
            send_flush(guard_.on_reply_tid(from, *info->tid, now));
    }
}

void UdpPort::close() {
    if (!handle_) return;
    handle_.close();
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
    if (kind == PacketKind::dht || kind == PacketKind::stun || kind == PacketKind::address_check ||
        kind == PacketKind::rendezvous)
        self->on_guarded_receive(kind, data, *from);
    if (auto& handler = self->handlers_[size_t(kind)]) handler(data, *from);
}

}  // namespace pave
