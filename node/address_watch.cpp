#include "node/address_watch.h"

#include "node/netlink_address.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace pave {

AddressWatch::AddressWatch(uv_loop_t* loop, Changed changed) : loop_(loop), changed_(std::move(changed)) {}

AddressWatch::~AddressWatch() {
    timer_.close();
    poll_.close();  // stops polling the descriptor at once
    if (fd_ >= 0) ::close(fd_);
}

std::string AddressWatch::start() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) return std::string("netlink socket: ") + std::strerror(errno);
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::string e = std::string("netlink bind: ") + std::strerror(errno);
        ::close(fd_);
        fd_ = -1;
        return e;
    }
    uv_timer_init(loop_, timer_.create());
    timer_->data = this;
    if (int rc = uv_poll_init(loop_, poll_.create(), fd_); rc != 0) return std::string("uv_poll_init: ") + uv_strerror(rc);
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int status, int) {
        if (h->data && status == 0) static_cast<AddressWatch*>(h->data)->on_readable();
    });
    return "";
}

void AddressWatch::on_readable() {
    static std::array<uint8_t, 16384> buf;
    size_t found = 0;
    for (int i = 0; i < 64; ++i) {  // bounded per wake-up; the rest waits for the next
        sockaddr_nl from{};
        socklen_t fl = sizeof from;
        ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n < 0) {
            // ENOBUFS: the kernel dropped messages for us: something changed.
            if (errno == ENOBUFS) ++found;
            if (errno == EINTR || errno == ENOBUFS) continue;
            break;
        }
        if (from.nl_pid != 0) continue;  // only the kernel's reports
        found += count_address_messages(ByteView(buf.data(), size_t(n)));
    }
    if (found == 0 || uv_is_active(timer_.handle())) return;
    uv_timer_start(timer_, [](uv_timer_t* h) {
        auto* self = static_cast<AddressWatch*>(h->data);
        if (!self) return;
        ++self->changes_;
        self->changed_();
    }, uint64_t(kCoalesce.count()), 0);
}

}  // namespace pave
