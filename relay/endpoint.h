// A UDP endpoint: an IPv4 or IPv6 address and a port.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/bytes.h"

namespace pave {

class Endpoint {
public:
    Endpoint() = default;
    static std::optional<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len);
    // Numeric "a.b.c.d:port" or "[v6]:port"; no name resolution.
    static std::optional<Endpoint> parse(std::string_view text);
    // Raw form used inside sealed messages: 4 or 16 address bytes.
    static std::optional<Endpoint> from_ip_bytes(ByteView ip, uint16_t port);

    bool valid() const { return len_ != 0; }
    int family() const { return ss_.ss_family; }
    uint16_t port() const;
    void set_port(uint16_t port);
    Bytes ip_bytes() const;  // 4 bytes (IPv4) or 16 bytes (IPv6); IPv4-mapped IPv6 is unmapped
    std::string ip_string() const;
    std::string to_string() const;  // "1.2.3.4:5" / "[::1]:5"

    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss_); }
    socklen_t sa_len() const { return len_; }

    // Allocation-free comparisons: these run for every packet on the data path.
    bool same_ip(const Endpoint& o) const;
    bool operator==(const Endpoint& o) const { return same_ip(o) && port() == o.port(); }
    size_t hash() const;

private:
    sockaddr_storage ss_{};
    socklen_t len_ = 0;
};

struct EndpointHash {
    size_t operator()(const Endpoint& e) const { return e.hash(); }
};

}  // namespace pave
