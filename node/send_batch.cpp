#include "node/send_batch.h"

#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace pave {

void SendBatch::add(ByteView pkt, const std::optional<Endpoint>& to) {
    if (pkt.empty() || pkt.size() > 65507) return;
    if (count_ > 0) {
        bool same_dest = to.has_value() == to_.has_value() && (!to || *to == *to_);
        if (!same_dest || closed_ || pkt.size() > seg_size_ || count_ >= kMaxSegments ||
            buf_.size() + pkt.size() > 65507)
            flush();
    }
    if (count_ == 0) {
        to_ = to;
        seg_size_ = pkt.size();
        closed_ = false;
        buf_.clear();
        sizes_.clear();
    }
    buf_.insert(buf_.end(), pkt.begin(), pkt.end());
    sizes_.push_back(uint16_t(pkt.size()));
    if (pkt.size() < seg_size_) closed_ = true;
    ++count_;
}

void SendBatch::send_each() {
    size_t off = 0;
    for (uint16_t n : sizes_) {
        ssize_t r = ::sendto(fd_, buf_.data() + off, n, MSG_DONTWAIT, to_ ? to_->sa() : nullptr, to_ ? to_->sa_len() : 0);
        ++syscalls_;
        if (r < 0) ++errors_; else ++datagrams_;
        off += n;
    }
}

void SendBatch::flush() {
    if (count_ == 0 || fd_ < 0) {
        count_ = 0;
        return;
    }
    if (count_ == 1 || !gso_) {
        send_each();
    } else {
        iovec iov{buf_.data(), buf_.size()};
        msghdr msg{};
        if (to_) {
            msg.msg_name = const_cast<sockaddr*>(to_->sa());
            msg.msg_namelen = to_->sa_len();
        }
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = uint16_t(seg_size_);
        std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
        ++syscalls_;
        if (::sendmsg(fd_, &msg, MSG_DONTWAIT) >= 0) {
            datagrams_ += count_;
        } else if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
            gso_ = false;  // no segmentation offload here: one by one from now on
            send_each();
        } else {
            errors_ += count_;
        }
    }
    count_ = 0;
}

}  // namespace pave
