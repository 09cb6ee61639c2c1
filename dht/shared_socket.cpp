#include "dht/shared_socket.h"

#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace pave {

SharedSocket::SharedSocket(int fd4, const Endpoint& bound4, int fd6, const Endpoint& bound6, bool client_mode)
    : fd4_(fd4), fd6_(fd6), client_mode_(client_mode) {
    if (fd4 >= 0) bound4_ = dht::SockAddr(bound4.sa(), bound4.sa_len());
    if (fd6 >= 0) bound6_ = dht::SockAddr(bound6.sa(), bound6.sa_len());
}

namespace {

// OpenDHT's wire protocol has a key "s" (is_client): a peer that receives a message carrying
// "s": true keeps the sender out of its routing table, so it never hands the sender's
// address to other nodes. OpenDHT 2.4 parses the key but never sends it; the client role
// adds it to every message (each is a msgpack map: bump the map's count, append the pair).
bool mark_as_client(const uint8_t* data, size_t size, std::vector<uint8_t>& out) {
    static const uint8_t pair[] = {0xa1, 's', 0xc3};  // fixstr "s", true
    if (size < 1) return false;
    out.assign(data, data + size);
    if (data[0] >= 0x80 && data[0] < 0x8f) {
        out[0] = uint8_t(data[0] + 1);
    } else if (data[0] == 0x8f) {  // 15 pairs: the 16th needs the map16 header
        out[0] = 0xde;
        static const uint8_t count16[] = {0x00, 0x10};
        out.insert(out.begin() + 1, count16, count16 + 2);
    } else if (data[0] == 0xde && size >= 3) {
        unsigned n = unsigned(data[1]) << 8 | data[2];
        if (n == 0xffff) return false;
        ++n;
        out[1] = uint8_t(n >> 8);
        out[2] = uint8_t(n);
    } else {
        return false;
    }
    out.insert(out.end(), pair, pair + sizeof pair);
    return true;
}

}  // namespace

int SharedSocket::sendTo(const dht::SockAddr& dest, const uint8_t* data, size_t size, bool /*replied*/) {
    if (stopped_) return EPIPE;
    int fd = dest.getFamily() == AF_INET6 ? fd6_ : fd4_;
    if (fd < 0) return EAFNOSUPPORT;
    thread_local std::vector<uint8_t> marked;
    if (client_mode_ && mark_as_client(data, size, marked)) {
        data = marked.data();
        size = marked.size();
    }
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
