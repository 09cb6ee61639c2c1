// OpenDHT's socket, on a role's shared UDP port.
// OpenDHT calls sendTo on its own thread: it goes through the port's send function, which must
// be thread-safe (the port's amplification guard decides what leaves). The loop thread hands it
// the DHT datagrams it received on the shared port through deliver().
#pragma once
#include <opendht/network_utils.h>

#include <functional>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"

namespace pave {

class SharedSocket final : public dht::net::DatagramSocket {
public:
    // Sends one datagram; returns 0 or an errno. Called on OpenDHT's thread.
    using SendFn = std::function<int(ByteView data, const Endpoint& to)>;

    // An empty send function means no socket of that family. client_mode: mark every message
    // this node sends as a client's (dht/dht_wire.h, mark_as_client).
    SharedSocket(SendFn send4, const Endpoint& bound4, SendFn send6, const Endpoint& bound6, bool client_mode);

    int sendTo(const dht::SockAddr& dest, const uint8_t* data, size_t size, bool replied) override;
    // OpenDHT 2.4 registers a listener for IPv6 only after it registered one for IPv4
    // (Dht::listen: token6 = token4 == 0 ? 0 : ...), so an IPv6-only node could never listen.
    // The socket therefore always claims IPv4; without an IPv4 descriptor, IPv4 sends fail
    // with EAFNOSUPPORT and IPv4 searches simply find no nodes.
    bool hasIPv4() const override { return true; }
    bool hasIPv6() const override { return bool(send6_); }
    const dht::SockAddr& getBoundRef(sa_family_t family = AF_UNSPEC) const override {
        return family == AF_INET6 ? bound6_ : bound4_;
    }
    void stop() override;
    // Any thread: from now on mark (or stop marking) what this node sends as a client's.
    void set_client_mode(bool on) { client_mode_ = on; }
    bool client_mode() const { return client_mode_; }

    // Loop thread only. Datagrams are queued and handed to OpenDHT in one batch per loop
    // iteration by flush(): one wake-up of its thread instead of one per datagram.
    void deliver(ByteView data, const Endpoint& from);
    void flush();

private:
    SendFn send4_, send6_;
    std::atomic<bool> client_mode_;
    dht::SockAddr bound4_, bound6_;
    std::atomic<bool> stopped_{false};
    dht::net::PacketList pending_;
};

}  // namespace pave
