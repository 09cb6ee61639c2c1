// One UDP socket of a role, owned by the libuv loop.
//
// Every datagram is classified by its first bytes (relay/wire/demux.h) and handed to the handler
// for that kind; the socket itself carries DHT, STUN, address checks, PAVE control frames and
// WireGuard.
//
// The port enforces the amplification budget (relay/amplification_guard.h) for everything it
// sends to strangers: OpenDHT's datagrams (send_dht), STUN (send_guarded) and address checks,
// which it answers itself. Control frames and WireGuard go out with send(): sessions send
// only to addresses that passed path validation, or within their own 3x budget
// (relay/path_validator.h), and the relay gate decides what crosses.
//
// Thread safety: send(), send_guarded() and send_dht() may be called from any thread (plain
// sendto(2) on the descriptor, and the guard locks itself), which is what OpenDHT's socket
// needs; everything else is for the loop thread.
#pragma once
#include <uv.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "crypto/bytes.h"
#include "relay/amplification_guard.h"
#include "relay/wire/demux.h"
#include "relay/wire/endpoint.h"
#include "node/uv_handle.h"

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
    // Unguarded: for session traffic only (see above). Returns false if the kernel refused it.
    bool send(ByteView data, const Endpoint& to) const;
    // Through the amplification guard: true if sent now (false if held, dropped or refused).
    bool send_guarded(ByteView data, const Endpoint& to, AmplificationGuard::Traffic traffic);
    // An OpenDHT datagram: a request or something owed to a peer, by its content. 0 or an errno
    // (a held or dropped datagram reports success, like a datagram lost on the way).
    int send_dht(ByteView data, const Endpoint& to);
    // Loop thread, about once a second: drops held datagrams that waited too long.
    void tick();
    void close();

    const AmplificationGuard& guard() const { return guard_; }
    uint64_t address_checks_malformed() const { return checks_malformed_; }

    int fd() const { return fd_; }
    const Endpoint& bound() const { return bound_; }
    uint64_t received(PacketKind k) const { return rx_[size_t(k)]; }
    uint64_t send_errors() const { return send_errors_; }

private:
    static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf);
    static void on_recv(uv_udp_t*, ssize_t n, const uv_buf_t* buf, const sockaddr* addr, unsigned flags);
    void on_guarded_receive(PacketKind kind, ByteView data, const Endpoint& from);
    void send_flush(const std::optional<AmplificationGuard::Flush>& f) const;

    uv_loop_t* loop_;
    UvHandle<uv_udp_t> handle_;
    int fd_ = -1;
    Endpoint bound_;
    std::array<Handler, kPacketKindCount> handlers_;
    std::array<uint64_t, kPacketKindCount> rx_{};
    mutable std::atomic<uint64_t> send_errors_{0};
    AmplificationGuard guard_;
    uint64_t checks_malformed_ = 0;
    std::array<char, 65536> buf_;
};

}  // namespace pave
