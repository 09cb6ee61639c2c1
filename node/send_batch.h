// Batched sending of datagrams to one destination with UDP generic segmentation offload.
//
// A relay forwards bursts of full-size WireGuard packets to one peer. Queued packets of one size
// to one destination leave in one sendmsg(2) with UDP_SEGMENT, so the kernel walks its stack
// (routing, netfilter, veth/bridge) once per batch instead of once per packet; the receiver
// still gets the same datagrams, byte for byte. Batches are flushed when the destination or
// the size changes, when full, and at the end of every loop iteration (so a lone packet waits
// for nothing). Where the kernel refuses UDP_SEGMENT, packets go one by one.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"

namespace pave {

class SendBatch {
public:
    // fd: a UDP socket. A connected socket sends without a destination (to = nullopt).
    explicit SendBatch(int fd = -1) : fd_(fd) {}
    void set_fd(int fd) { fd_ = fd; }

    // Queues one datagram; may flush the previous batch first.
    void add(ByteView pkt, const std::optional<Endpoint>& to);
    void flush();

    uint64_t syscalls() const { return syscalls_; }
    uint64_t datagrams() const { return datagrams_; }
    uint64_t errors() const { return errors_; }

private:
    void send_each();

    static constexpr size_t kMaxSegments = 44;  // 44 x 1452 B < 64 KiB
    int fd_;
    bool gso_ = true;
    std::optional<Endpoint> to_;
    size_t seg_size_ = 0, count_ = 0;
    bool closed_ = false;  // the last segment was short: nothing may follow it
    std::vector<uint8_t> buf_;
    std::vector<uint16_t> sizes_;
    uint64_t syscalls_ = 0, datagrams_ = 0, errors_ = 0;
};

}  // namespace pave
