#include "node/log.h"

#include <sys/time.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "relay/wire/endpoint.h"

namespace pave::log {

namespace {
std::atomic<int> g_level{int(Level::info)};
std::atomic<bool> g_addresses{false};
std::mutex g_mutex;
const char* name(Level l) {
    switch (l) {
        case Level::error: return "ERROR";
        case Level::warn: return "WARN ";
        case Level::info: return "INFO ";
        case Level::debug: return "DEBUG";
    }
    return "?";
}
}  // namespace

void set_level(Level l) { g_level = int(l); }
Level level() { return Level(g_level.load(std::memory_order_relaxed)); }
std::optional<Level> parse_level(std::string_view n) {
    if (n == "error") return Level::error;
    if (n == "warn" || n == "warning") return Level::warn;
    if (n == "info") return Level::info;
    if (n == "debug") return Level::debug;
    return std::nullopt;
}
void set_show_addresses(bool on) { g_addresses = on; }
bool show_addresses() { return g_addresses; }
std::string addr(const Endpoint& e) { return g_addresses ? e.to_string() : std::string("<addr>"); }

namespace {
bool digit(char c) { return c >= '0' && c <= '9'; }
bool hexdigit(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Length of a dotted quad (and :port) starting at i, or 0.
size_t ipv4_at(std::string_view t, size_t i) {
    if (i > 0 && (digit(t[i - 1]) || t[i - 1] == '.')) return 0;
    size_t j = i;
    for (int part = 0; part < 4; ++part) {
        size_t start = j;
        while (j < t.size() && digit(t[j]) && j - start < 3) ++j;
        if (j == start) return 0;
        if (part < 3) {
            if (j >= t.size() || t[j] != '.') return 0;
            ++j;
        }
    }
    if (j < t.size() && (digit(t[j]) || t[j] == '.')) return 0;
    if (j + 1 < t.size() && t[j] == ':' && digit(t[j + 1])) {
        ++j;
        while (j < t.size() && digit(t[j])) ++j;
    }
    return j - i;
}

// Length of "[v6]" (and :port) starting at i, or 0.
size_t ipv6_at(std::string_view t, size_t i) {
    if (t[i] != '[') return 0;
    size_t j = i + 1, colons = 0;
    while (j < t.size() && (hexdigit(t[j]) || t[j] == ':' || t[j] == '.')) colons += t[j++] == ':';
    if (j >= t.size() || t[j] != ']' || colons < 2) return 0;
    ++j;
    if (j + 1 < t.size() && t[j] == ':' && digit(t[j + 1])) {
        ++j;
        while (j < t.size() && digit(t[j])) ++j;
    }
    return j - i;
}
}  // namespace

std::string redact_addresses(std::string_view t) {
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
        size_t n = digit(t[i]) ? ipv4_at(t, i) : ipv6_at(t, i);
        if (n) {
            out += "<addr>";
            i += n;
        } else {
            out.push_back(t[i++]);
        }
    }
    return out;
}

void write(Level l, std::string_view component, std::string_view msg) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    tm t;
    gmtime_r(&tv.tv_sec, &t);
    char ts[96];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int(tv.tv_usec / 1000));
    // One line per event: fold any embedded newline so a log line cannot be forged.
    std::string line;
    line.reserve(msg.size());
    for (char c : msg) line.push_back((c == '\n' || c == '\r') ? ' ' : c);
    std::lock_guard lock(g_mutex);
    std::fprintf(stderr, "%s %s %.*s: %s\n", ts, name(l), int(component.size()), component.data(), line.c_str());
    std::fflush(stderr);
}

}  // namespace pave::log
