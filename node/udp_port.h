// One UDP socket of a role, owned by the libuv loop.
//
// Every datagram is classified by its first bytes (relay/demux.h) and handed to the handler
// for that kind; the socket itself carries DHT, STUN, PAVE control frames and WireGuard.
// send() may be called from any thread (it is a plain sendto(2) on the descriptor), which is
// what OpenDHT's socket needs.
#pragma once
#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "crypto/bytes.h"
#include "relay/demux.h"
#include "relay/endpoint.h"

namespace pave {

class UdpPort {
public:
    using Handler = std::function<void(ByteView data, const Endpoint& from)>;

    explicit UdpPort(uv_loop_t* loop);
    ~UdpPort();
    UdpPort(const UdpPort&) = delete;
    UdpPort& operator=(const UdpPort&) = delete;

    // Binds and starts receiving. Returns "" or a one-line error.
    std::string open(const Endpoint& bind, uint32_t fwmark = 0);
    void set_handler(PacketKind kind, Handler h) { handlers_[size_t(kind)] = std::move(h); }
    // Thread-safe. Returns false if the kernel refused the datagram.
    bool send(ByteView data, const Endpoint& to) const;
    void close();

    int fd() const { return fd_; }
    const Endpoint& bound() const { return bound_; }
    uint64_t received(PacketKind k) const { return rx_[size_t(k)]; }
    uint64_t send_errors() const { return send_errors_; }

private:
    static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf);
    static void on_recv(uv_udp_t*, ssize_t n, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);

    uv_loop_t* loop_;
    uv_udp_t* handle_ = nullptr;
    int fd_ = -1;
    Endpoint bound_;
    std::array<Handler, 5> handlers_;
    std::array<uint64_t, 5> rx_{};
    mutable uint64_t send_errors_ = 0;
    std::array<char, 65536> buf_;
};

}  // namespace pave
