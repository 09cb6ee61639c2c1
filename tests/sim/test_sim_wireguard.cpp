// The simulated WireGuard endpoints: a VPN server that answers handshakes and echoes data on
// the keypair, and a local WireGuard that recognises its answers.
#include <doctest/doctest.h>

#include "tests/sim/sim_wireguard.h"

using namespace pave;
using namespace pave::sim;
using namespace std::chrono_literals;

TEST_CASE("sim WireGuard: messages have WireGuard's shape") {
    auto i = parse_wireguard(wg_initiation(0x01020304));
    REQUIRE(i);
    CHECK(i->type == WgType::initiation);
    CHECK(i->sender_index == 0x01020304);
    auto r = parse_wireguard(wg_response(7, 9));
    REQUIRE(r);
    CHECK(r->type == WgType::response);
    CHECK(r->sender_index == 7);
    CHECK(r->receiver_index == 9);
    Bytes t = wg_transport(5, 11, 20, 0x77);
    CHECK(t.size() == 16 + 32 + 16);
    auto tm = parse_wireguard(t);
    REQUIRE(tm);
    CHECK(tm->type == WgType::transport);
    CHECK(tm->receiver_index == 5);
    CHECK(tm->counter == 11);
    CHECK(parse_wireguard(wg_transport(5, 0, 0)));  // a keepalive
}

TEST_CASE("sim WireGuard: the server answers an initiation on its index and echoes data on the keypair") {
    VirtualClock clock;
    EventQueue q(clock);
    SimRandom rng(4);
    SimNetwork net(q, rng);
    SimWireGuardServer vpn(net, *Endpoint::parse("203.0.113.100:51820"));
    SimSocket* sock = nullptr;
    SimWireGuardPeer peer(rng, [&](ByteView d) { sock->send(vpn.endpoint(), d); });
    sock = &net.bind("203.0.113.7:40000", [&](const Endpoint&, ByteView d) { peer.on_datagram(d); });

    CHECK_FALSE(peer.send_data());  // no keypair yet
    peer.send_initiation();
    q.run_for(100ms);
    CHECK(vpn.initiations() == 1);
    CHECK(*vpn.last_peer() == sock->local());
    CHECK(peer.responses() == 1);
    REQUIRE(peer.has_keypair());
    for (int i = 0; i < 5; ++i) CHECK(peer.send_data(100));
    q.run_for(100ms);
    CHECK(vpn.transport_in() == 5);
    CHECK(peer.echoes() == 5);
    CHECK(peer.unexpected() == 0);

    // Data on an unknown index, junk: ignored. A silent server answers nothing.
    sock->send(vpn.endpoint(), wg_transport(12345, 0, 16));
    Bytes junk{1, 2, 3};
    sock->send(vpn.endpoint(), junk);
    q.run_for(100ms);
    CHECK(vpn.ignored() == 2);
    vpn.set_silent(true);
    peer.send_initiation();
    q.run_for(100ms);
    CHECK(vpn.initiations() == 2);
    CHECK(peer.responses() == 1);
    CHECK_FALSE(peer.has_keypair());
}
