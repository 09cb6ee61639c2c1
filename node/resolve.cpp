#include "node/resolve.h"

#include <netdb.h>

#include <charconv>

namespace pave {

std::optional<Endpoint> resolve_host_port(const std::string& text, std::string& error) {
    if (auto e = Endpoint::parse(text)) return e;
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        error = "'" + text + "' is not HOST:PORT";
        return std::nullopt;
    }
    std::string host = text.substr(0, colon), port = text.substr(colon + 1);
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) {
        error = "invalid port in '" + text + "'";
        return std::nullopt;
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        error = "cannot resolve '" + host + "': " + gai_strerror(rc);
        return std::nullopt;
    }
    std::optional<Endpoint> best;
    for (addrinfo* a = res; a; a = a->ai_next) {
        auto e = Endpoint::from_sockaddr(a->ai_addr, a->ai_addrlen);
        if (e && (!best || (e->family() == AF_INET && best->family() != AF_INET))) best = e;
    }
    freeaddrinfo(res);
    if (!best) error = "no usable address for '" + host + "'";
    return best;
}

}  // namespace pave
