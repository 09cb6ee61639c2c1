#include "dht/opendht/shared_socket.h"

#include <cerrno>
#include <vector>

#include "dht/dht_wire.h"

namespace pave {

SharedSocket::SharedSocket(SendFn send4, const Endpoint& bound4, SendFn send6, const Endpoint& bound6,
                           bool client_mode)
    : send4_(std::move(send4)), send6_(std::move(send6)), client_mode_(client_mode) {
    if (send4_) bound4_ = dht::SockAddr(bound4.sa(), bound4.sa_len());
    if (send6_) bound6_ = dht::SockAddr(bound6.sa(), bound6.sa_len());
}

int SharedSocket::sendTo(const dht::SockAddr& dest, const uint8_t* data, size_t size, bool /*replied*/) {
    if (stopped_) return EPIPE;
    const SendFn& send = dest.getFamily() == AF_INET6 ? send6_ : send4_;
    if (!send) return EAFNOSUPPORT;
    auto to = Endpoint::from_sockaddr(dest.get(), dest.getLength());
    if (!to) return EAFNOSUPPORT;
    ByteView wire(data, size);
    thread_local std::vector<uint8_t> marked;
    if (client_mode_ && mark_as_client(wire, marked)) wire = ByteView(marked.data(), marked.size());
    return send(wire, *to);
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
