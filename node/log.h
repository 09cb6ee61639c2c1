// Logging: levels, timestamps, one line per event, thread-safe.
// Peer addresses are redacted unless the operator asked for them (--log-addresses);
// private keys and rendezvous plaintext are never passed to the logger.
#pragma once
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace pave {
class Endpoint;
}

namespace pave::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level l);
Level level();
std::optional<Level> parse_level(std::string_view name);
void set_show_addresses(bool on);
bool show_addresses();
// An address as it may appear in a log line: "<addr>" unless --log-addresses.
std::string addr(const Endpoint& e);
// Replaces every IPv4 address (with its :port) and bracketed IPv6 address in free text
// (e.g. a library's log line) by "<addr>".
std::string redact_addresses(std::string_view text);

void write(Level l, std::string_view component, std::string_view msg);

template <typename... A>
void error(std::string_view c, fmt::format_string<A...> f, A&&... a) {
    if (level() >= Level::error) write(Level::error, c, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void warn(std::string_view c, fmt::format_string<A...> f, A&&... a) {
    if (level() >= Level::warn) write(Level::warn, c, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void info(std::string_view c, fmt::format_string<A...> f, A&&... a) {
    if (level() >= Level::info) write(Level::info, c, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void debug(std::string_view c, fmt::format_string<A...> f, A&&... a) {
    if (level() >= Level::debug) write(Level::debug, c, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace pave::log
