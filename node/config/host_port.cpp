#include "node/config/host_port.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>

namespace pave {

namespace {

int ip_family(std::string_view s) {
    if (s.empty() || s.size() > 45) return 0;
    std::string z(s);
    std::array<unsigned char, 16> buf;
    if (inet_pton(AF_INET, z.c_str(), buf.data()) == 1) return AF_INET;
    if (inet_pton(AF_INET6, z.c_str(), buf.data()) == 1) return AF_INET6;
    return 0;
}

std::optional<uint16_t> parse_port(std::string_view p) {
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    unsigned v = 0;
    std::from_chars(p.data(), p.data() + p.size(), v);
    if (v == 0 || v > 65535) return std::nullopt;
    return uint16_t(v);
}

}  // namespace

bool valid_dns_name(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    if (s.empty() || s.size() > 253) return false;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find('.', start);
        if (end == std::string_view::npos) end = s.size();
        std::string_view label = s.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                return false;
        start = end + 1;
    }
    // All digits and dots ("1.2.3", "300.1.1.1") is a malformed address, not a name.
    return s.find_first_not_of("0123456789.") != std::string_view::npos;
}

std::string HostPort::text() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view v, uint16_t default_port, std::string& error) {
    HostPort hp;
    std::string_view host, port;
    bool has_port;
    if (!v.empty() && v.front() == '[') {
        auto close = v.find(']');
        if (close == std::string_view::npos) {
            error = "missing ']' after the IPv6 address";
            return std::nullopt;
        }
        host = v.substr(1, close - 1);
        has_port = close + 1 < v.size();
        if (has_port && v[close + 1] != ':') {
            error = "expected ':' and a port after ']'";
            return std::nullopt;
        }
        if (has_port) port = v.substr(close + 2);
        if (ip_family(host) != AF_INET6) {
            error = "'" + std::string(host.substr(0, 64)) + "' is not an IPv6 address";
            return std::nullopt;
        }
    } else {
        auto colon = v.rfind(':');
        has_port = colon != std::string_view::npos;
        host = v.substr(0, colon);
        if (has_port) port = v.substr(colon + 1);
        if (host.find(':') != std::string_view::npos || (!has_port && ip_family(v) == AF_INET6)) {
            error = "an IPv6 address must be in brackets, e.g. [2001:db8::1]:51820";
            return std::nullopt;
        }
        if (ip_family(host) == AF_INET) {
            hp.is_name = false;
        } else if (valid_dns_name(host)) {
            hp.is_name = true;
        } else {
            error = "'" + std::string(host.substr(0, 64)) + "' is not a host name or IPv4 address";
            return std::nullopt;
        }
    }
    if (!has_port) {
        if (!default_port) {
            error = "no port (expected HOST:PORT)";
            return std::nullopt;
        }
        hp.port = default_port;
    } else if (auto p = parse_port(port)) {
        hp.port = *p;
    } else {
        error = "no valid port (1 to 65535)";
        return std::nullopt;
    }
    hp.host = std::string(host);
    return hp;
}

}  // namespace pave
