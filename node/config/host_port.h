// A user-given "HOST:PORT" (a command-line address or a WireGuard Endpoint), checked without
// resolving anything: HOST is a DNS name, an IPv4 address, or an IPv6 address in brackets.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pave {

struct HostPort {
    std::string host;  // without brackets
    uint16_t port = 0;
    bool is_name = false;  // a DNS name, to be resolved before use
    // "host:port", or "[v6]:port".
    std::string text() const;
};

// Parses "name:port", "a.b.c.d:port" or "[v6]:port" (port 1-65535). With default_port != 0 the
// port may be left out ("name", "a.b.c.d", "[v6]"). An IPv6 address must be in brackets. On
// failure returns nullopt and sets `error` to a short reason.
std::optional<HostPort> parse_host_port(std::string_view text, uint16_t default_port, std::string& error);

// A DNS name: 1-253 characters in dot-separated labels of 1-63 letters, digits, '-' or '_'
// (not starting or ending with '-'), with an optional trailing dot, and not all digits and dots.
bool valid_dns_name(std::string_view s);

}  // namespace pave
