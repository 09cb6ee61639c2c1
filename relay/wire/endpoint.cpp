#include "relay/wire/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "crypto/byte_writer.h"

namespace pave {

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
    if (!sa) return std::nullopt;
    Endpoint e;
    if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
        std::memcpy(&e.ss_, sa, sizeof(sockaddr_in));
        e.len_ = sizeof(sockaddr_in);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            auto* s4 = reinterpret_cast<sockaddr_in*>(&e.ss_);
            s4->sin_family = AF_INET;
            s4->sin_port = s6->sin6_port;
            std::memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
            e.len_ = sizeof(sockaddr_in);
        } else {
            std::memcpy(&e.ss_, sa, sizeof(sockaddr_in6));
            e.len_ = sizeof(sockaddr_in6);
        }
    } else {
        return std::nullopt;
    }
    return e;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
    std::string host;
    std::string_view port_s;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = std::string(text.substr(1, close - 1));
        port_s = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
        host = std::string(text.substr(0, colon));
        port_s = text.substr(colon + 1);
    }
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
    if (ec != std::errc() || p != port_s.data() + port_s.size() || port > 65535 || port_s.empty())
        return std::nullopt;
    Endpoint e;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&e.ss_);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&e.ss_);
    if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(uint16_t(port));
        e.len_ = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(uint16_t(port));
        e.len_ = sizeof(sockaddr_in6);
    } else {
        return std::nullopt;
    }
    return e;
}

std::optional<Endpoint> Endpoint::from_ip_bytes(ByteView ip, uint16_t port) {
    Endpoint e;
    if (ip.size() == 4) {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&e.ss_);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        std::memcpy(&s4->sin_addr, ip.data(), 4);
        e.len_ = sizeof(sockaddr_in);
    } else if (ip.size() == 16) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&e.ss_);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        std::memcpy(&s6->sin6_addr, ip.data(), 16);
        e.len_ = sizeof(sockaddr_in6);
    } else {
        return std::nullopt;
    }
    return e;
}

uint16_t Endpoint::port() const {
    if (ss_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
    if (ss_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
    return 0;
}

void Endpoint::set_port(uint16_t port) {
    if (ss_.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&ss_)->sin_port = htons(port);
    if (ss_.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ss_)->sin6_port = htons(port);
}

Bytes Endpoint::ip_bytes() const {
    if (ss_.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr);
        return Bytes(a, a + 4);
    }
    if (ss_.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr.s6_addr;
        return Bytes(a, a + 16);
    }
    return {};
}

std::string Endpoint::ip_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss_.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, buf, sizeof buf);
    else if (ss_.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, buf, sizeof buf);
    return buf;
}

std::string Endpoint::to_string() const {
    if (ss_.ss_family == AF_INET6) return "[" + ip_string() + "]:" + std::to_string(port());
    if (ss_.ss_family == AF_INET) return ip_string() + ":" + std::to_string(port());
    return "-";
}

bool Endpoint::is_v4_mapped(ByteView ip) {
    return ip.size() == 16 && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin());
}

Bytes Endpoint::unmapped_ip(ByteView ip) {
    if (is_v4_mapped(ip)) return Bytes(ip.begin() + 12, ip.end());
    return Bytes(ip.begin(), ip.end());
}

ByteArray<16> Endpoint::ip16() const {
    ByteArray<16> out{};
    if (ss_.ss_family == AF_INET) {
        std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), out.begin());
        std::memcpy(out.data() + 12, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, 4);
    } else if (ss_.ss_family == AF_INET6) {
        std::memcpy(out.data(), reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr.s6_addr, 16);
    }
    return out;
}

ByteArray<18> Endpoint::mapped_key() const {
    ByteArray<18> out{};
    ByteWriter w(out);
    w.put(ip16()) && w.u16be(port());
    return out;
}

Endpoint Endpoint::from_ip16(const ByteArray<16>& ip, uint16_t port) {
    const ByteView v(ip);
    return *from_ip_bytes(is_v4_mapped(v) ? v.subspan(12) : v, port);
}

bool Endpoint::same_ip(const Endpoint& o) const {
    if (ss_.ss_family != o.ss_.ss_family) return false;
    if (ss_.ss_family == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in*>(&o.ss_)->sin_addr.s_addr;
    if (ss_.ss_family == AF_INET6)
        return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6*>(&o.ss_)->sin6_addr, 16) == 0;
    return true;  // both invalid
}

size_t Endpoint::hash() const {
    const uint8_t* a = nullptr;
    size_t n = 0;
    if (ss_.ss_family == AF_INET) {
        a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr);
        n = 4;
    } else if (ss_.ss_family == AF_INET6) {
        a = reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr.s6_addr;
        n = 16;
    }
    size_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ a[i]) * 1099511628211ull;
    return (h ^ port()) * 1099511628211ull;
}

}  // namespace pave
