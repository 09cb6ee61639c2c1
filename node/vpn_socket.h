// The socket of one relay session towards the client's VPN endpoint: a UDP socket connect()ed
// to the endpoint, so it receives only from it, and reports ICMP port unreachable from it.
// Its local port is drawn afresh for each session from the whole range above 1023, not the
// kernel's ephemeral range (why: relay/gate.h). What arrives goes to the callbacks; what is
// sent is batched (node/send_batch.h) until flush().
#pragma once
#include <uv.h>

#include <functional>
#include <string>

#include "node/send_batch.h"
#include "relay/wire/endpoint.h"
#include "node/uv_handle.h"

namespace pave {

class VpnSocket {
public:
    using OnDatagram = std::function<void(ByteView data)>;
    using OnUnreachable = std::function<void()>;

    static constexpr unsigned kPortMin = 1024;
    static constexpr int kPortAttempts = 64;

    VpnSocket(uv_loop_t* loop, OnDatagram on_datagram, OnUnreachable on_unreachable);
    ~VpnSocket();  // flushes what is queued, then closes
    VpnSocket(const VpnSocket&) = delete;
    VpnSocket& operator=(const VpnSocket&) = delete;

    // "" or why the socket could not be opened.
    std::string open(const Endpoint& vpn, uint32_t fwmark);
    void send(ByteView data) { batch_.add(data, std::nullopt); }
    void flush() { batch_.flush(); }
    const SendBatch& sent() const { return batch_; }

private:
    static int bind_random_port(uv_udp_t* sock, int family);
    static void on_recv(uv_udp_t*, ssize_t, const uv_buf_t*, const sockaddr*, unsigned);

    uv_loop_t* loop_;
    OnDatagram on_datagram_;
    OnUnreachable on_unreachable_;
    SendBatch batch_;
    UvHandle<uv_udp_t> sock_;
};

}  // namespace pave
