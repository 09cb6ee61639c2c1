// Whether a node's DHT is a full node or a client (node/dht_role.h).
#include <doctest/doctest.h>

#include <string>

#include "node/dht_role.h"

using namespace pave;

namespace {
Endpoint ep(const std::string& text) { return Endpoint::parse(text).value(); }
}  // namespace

TEST_CASE("dht role: before the public address is known, a host reached only through a NAT is a client") {
    CHECK(judge_dht_role(ep("10.2.0.2:4500"), {}, std::nullopt) == DhtRole::client);
    CHECK(judge_dht_role(ep("192.168.1.5:4500"), {}, std::nullopt) == DhtRole::client);
    CHECK(judge_dht_role(ep("100.64.3.4:4500"), {}, std::nullopt) == DhtRole::client);
    // Public, documentation (labs) and loopback (local swarms) addresses start as full nodes.
    CHECK(judge_dht_role(ep("198.51.100.7:4300"), {}, std::nullopt) == DhtRole::full);
    CHECK(judge_dht_role(ep("203.0.113.40:4300"), {}, std::nullopt) == DhtRole::full);
    CHECK(judge_dht_role(ep("127.0.0.1:4300"), {}, std::nullopt) == DhtRole::full);
    // Wildcard: the host's addresses decide; loopback ones are ignored.
    const Endpoint any = ep("0.0.0.0:4500");
    CHECK(judge_dht_role(any, {ep("127.0.0.1:0"), ep("10.0.0.5:0")}, std::nullopt) == DhtRole::client);
    CHECK(judge_dht_role(any, {ep("10.0.0.5:0"), ep("198.51.100.7:0")}, std::nullopt) == DhtRole::full);
    CHECK(judge_dht_role(any, {ep("127.0.0.1:0")}, std::nullopt) == DhtRole::full);
    CHECK(judge_dht_role(any, {}, std::nullopt) == DhtRole::full);
    CHECK(judge_dht_role(any, {ep("[fd00::1]:0")}, std::nullopt) == DhtRole::full);  // other family
}

TEST_CASE("dht role: once the public address is known, a full node iff it is one of the node's own") {
    CHECK(judge_dht_role(ep("10.2.0.2:4500"), {}, ep("203.0.113.20:4500")) == DhtRole::client);
    CHECK(judge_dht_role(ep("203.0.113.40:4300"), {}, ep("203.0.113.40:4300")) == DhtRole::full);
    // A NAT in front of a public-looking address: the port or address differs.
    CHECK(judge_dht_role(ep("198.51.100.7:4300"), {}, ep("198.51.100.7:61000")) == DhtRole::client);
    CHECK(judge_dht_role(ep("127.0.0.1:4300"), {}, ep("127.0.0.1:4300")) == DhtRole::full);
    // A LAN-only swarm: the private address is what peers see.
    CHECK(judge_dht_role(ep("10.2.0.2:4500"), {}, ep("10.2.0.2:4500")) == DhtRole::full);
    // Wildcard: a host address with the bound port.
    const Endpoint any = ep("0.0.0.0:4500");
    CHECK(judge_dht_role(any, {ep("10.0.0.5:0"), ep("198.51.100.7:0")}, ep("198.51.100.7:4500")) == DhtRole::full);
    CHECK(judge_dht_role(any, {ep("10.0.0.5:0")}, ep("198.51.100.7:4500")) == DhtRole::client);
    CHECK(judge_dht_role(any, {ep("198.51.100.7:0")}, ep("198.51.100.7:4501")) == DhtRole::client);
}
