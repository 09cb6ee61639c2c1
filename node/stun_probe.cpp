#include "node/stun_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <iostream>

#include "node/resolve.h"
#include "relay/wire/stun.h"

namespace pave {

int run_stun_probe(const std::string& server, const std::string& bind, unsigned timeout_ms) {
    std::string err;
    auto srv = resolve_host_port(server, err);
    if (!srv) {
        std::cerr << "pave: error: " << err << "\n";
        return 2;
    }
    int fd = socket(srv->family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::cerr << "pave: error: socket: " << std::strerror(errno) << "\n";
        return 1;
    }
    if (!bind.empty()) {
        auto b = Endpoint::parse(bind);
        if (!b || ::bind(fd, b->sa(), b->sa_len()) != 0) {
            std::cerr << "pave: error: cannot bind " << bind << "\n";
            ::close(fd);
            return 1;
        }
    }
    // Retransmit every 500 ms (RFC 5389 retransmits too) until the timeout.
    unsigned tries = std::max(1u, timeout_ms / 500);
    for (unsigned attempt = 0; attempt < tries; ++attempt) {
        StunTxId tx;
        Bytes req = build_binding_request(tx);
        ::sendto(fd, req.data(), req.size(), 0, srv->sa(), srv->sa_len());
        pollfd p{fd, POLLIN, 0};
        while (poll(&p, 1, int(std::min(500u, timeout_ms))) > 0) {
            uint8_t buf[1500];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            if (auto mapped = parse_binding_response(ByteView(buf, size_t(n)), tx)) {
                std::cout << "mapped " << mapped->to_string() << "\n";
                ::close(fd);
                return 0;
            }
        }
    }
    ::close(fd);
    std::cerr << "pave: error: no STUN answer from " << server << "\n";
    return 1;
}

}  // namespace pave
