// A relay's side of one client session: the control session (punching, validation,
// keepalives), the gate, and one connect()ed UDP socket towards the client's VPN endpoint.
// WireGuard crosses byte for byte: client -> gate -> VPN socket, VPN socket -> gate -> client.
// The VPN socket's local port is drawn afresh for each session from the whole range above
// 1023, not the kernel's ephemeral range (why: relay/gate.h).
#pragma once
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "node/send_batch.h"
#include "relay/gate.h"
#include "relay/session.h"

namespace pave {

class UdpPort;

class RelaySession {
public:
    using Clock = std::chrono::steady_clock;

    // to_clients: the relay port's batch of datagrams to clients (flushed by the service).
    RelaySession(uv_loop_t* loop, UdpPort& port, SendBatch& to_clients, const SessionKeys& keys,
                 const std::vector<Endpoint>& client_candidates,
                 const Endpoint& vpn, const GateLimits& limits, DestinationLimiter& destinations,
                 const SessionTimers& timers, Clock::time_point now);
    ~RelaySession();
    RelaySession(const RelaySession&) = delete;
    RelaySession& operator=(const RelaySession&) = delete;

    static constexpr unsigned kVpnPortMin = 1024;
    static constexpr int kVpnPortAttempts = 64;

    // "" or why the VPN socket could not be opened.
    std::string open_vpn_socket(uint32_t fwmark);
    void on_control(ByteView wire, const Endpoint& from, Clock::time_point now) { session_.on_control(wire, from, now); }
    // WireGuard from the bound client address.
    void on_client_wireguard(ByteView pkt, Clock::time_point now);
    void on_timer(Clock::time_point now);
    Clock::time_point next_deadline() const;
    bool finished(Clock::time_point now) const;
    void close(Clock::time_point now);

    Session& session() { return session_; }
    const Session& session() const { return session_; }
    const Gate& gate() const { return gate_; }
    const Endpoint& vpn() const { return vpn_; }
    void flush() { to_vpn_.flush(); }
    const SendBatch& sent_to_vpn() const { return to_vpn_; }

private:
    static int bind_random_port(uv_udp_t* sock, int family);
    static void on_vpn_recv(uv_udp_t*, ssize_t, const uv_buf_t*, const sockaddr*, unsigned);
    void on_vpn_packet(ByteView pkt);

    SendBatch& to_clients_;
    SendBatch to_vpn_;  // on the connect()ed socket towards the VPN
    Endpoint vpn_;
    Session session_;
    Gate gate_;
    uv_loop_t* loop_;
    uv_udp_t* vpn_sock_ = nullptr;
};

}  // namespace pave
