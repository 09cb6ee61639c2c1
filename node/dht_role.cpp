#include "node/dht_role.h"

#include "relay/wire/endpoint_policy.h"

namespace pave {

namespace {

bool behind_nat_class(const Endpoint& ep) {
    switch (classify_address(ep)) {
        case EndpointVerdict::private_rfc1918:
        case EndpointVerdict::cgnat:
        case EndpointVerdict::link_local: return true;
        default: return false;
    }
}

}  // namespace

DhtRole judge_dht_role(const Endpoint& bound, const std::vector<Endpoint>& host_addresses,
                       const std::optional<Endpoint>& mapped) {
    const bool wildcard = classify_address(bound) == EndpointVerdict::unspecified;
    if (mapped) {
        if (*mapped == bound) return DhtRole::full;
        if (wildcard)
            for (Endpoint h : host_addresses)
                if (h.family() == mapped->family()) {
                    h.set_port(bound.port());
                    if (h == *mapped) return DhtRole::full;
                }
        return DhtRole::client;
    }
    if (!wildcard) return behind_nat_class(bound) ? DhtRole::client : DhtRole::full;
    size_t natted = 0, other = 0;
    for (const auto& h : host_addresses) {
        if (h.family() != bound.family() || classify_address(h) == EndpointVerdict::loopback) continue;
        ++(behind_nat_class(h) ? natted : other);
    }
    return natted > 0 && other == 0 ? DhtRole::client : DhtRole::full;
}

const char* to_string(DhtRole r) { return r == DhtRole::full ? "full" : "client"; }

}  // namespace pave
