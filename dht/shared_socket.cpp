#include "dht/shared_socket.h"

#include <sys/socket.h>

#include <cerrno>

namespace pave {

SharedSocket::SharedSocket(int fd4, const Endpoint& bound4, int fd6, const Endpoint& bound6) : fd4_(fd4), fd6_(fd6) {
    if (fd4 >= 0) bound4_ = dht::SockAddr(bound4.sa(), bound4.sa_len());
    if (fd6 >= 0) bound6_ = dht::SockAddr(bound6.sa(), bound6.sa_len());
}

int SharedSocket::sendTo(const dht::SockAddr& dest, const uint8_t* data, size_t size, bool /*replied*/) {
    if (stopped_) return EPIPE;
    int fd = dest.getFamily() == AF_INET6 ? fd6_ : fd4_;
    if (fd < 0) return EAFNOSUPPORT;
    if (::sendto(fd, data, size, MSG_DONTWAIT, dest.get(), dest.getLength()) < 0) return errno;
    return 0;
}

void SharedSocket::stop() { stopped_ = true; }

void SharedSocket::deliver(ByteView data, const Endpoint& from) {
    if (stopped_) return;
    auto pkts = getNewPacket();
    auto& pkt = pkts.front();
    pkt.data.assign(data.begin(), data.end());
    pkt.from = dht::SockAddr(from.sa(), from.sa_len());
    pkt.received = dht::clock::now();
    pending_.splice(pending_.end(), pkts);
}

void SharedSocket::flush() {
    if (pending_.empty() || stopped_) return;
    onReceived(std::move(pending_));
    pending_.clear();
}

}  // namespace pave
