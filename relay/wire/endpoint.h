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
    Bytes ip_bytes() const;  // 4 bytes (IPv4) or 16 bytes (IPv6), as stored; empty if invalid
    std::string ip_string() const;
    std::string to_string() const;  // "1.2.3.4:5" / "[::1]:5"

    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss_); }
    socklen_t sa_len() const { return len_; }

    // The canonical forms of an address; the only place the IPv4-mapped prefix is spelled out.
    // (from_sockaddr already stores IPv4-mapped IPv6 as IPv4; parse and from_ip_bytes do not.)
    static constexpr ByteArray<12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    // True for 16 bytes in ::ffff:0:0/96.
    static bool is_v4_mapped(ByteView ip);
    // 4 bytes for IPv4 and for IPv4-mapped IPv6, otherwise ip itself (16 bytes, or as given).
    static Bytes unmapped_ip(ByteView ip);
    // unmapped_ip(ip_bytes()): one key for both spellings of an IPv4 address.
    Bytes canonical_ip() const { return unmapped_ip(ip_bytes()); }
    // IPv6 form: IPv4 as IPv4-mapped; all zero if invalid.
    ByteArray<16> ip16() const;
    // ip16() then the port, big-endian: a fixed-size key and wire form of the endpoint.
    ByteArray<18> mapped_key() const;
    // Inverse of ip16(): an IPv4-mapped address comes back as IPv4.
    static Endpoint from_ip16(const ByteArray<16>& ip, uint16_t port);

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
