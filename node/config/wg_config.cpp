#include "node/config/wg_config.h"

#include "node/config/host_port.h"

#include <arpa/inet.h>
#include <nettle/base64.h>

#include <array>
#include <charconv>
#include <map>

namespace pave {

namespace {

enum class Section { none, interface, peer };

bool space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

// Entries separated by commas and/or whitespace, as wg-quick splits Address and DNS.
std::vector<std::string_view> split_list(std::string_view v) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (v[i] == ',' || space(v[i]))) ++i;
        size_t start = i;
        while (i < v.size() && v[i] != ',' && !space(v[i])) ++i;
        if (i > start) out.push_back(v.substr(start, i - start));
    }
    return out;
}

// What a value may show in an error line: printable ASCII only, cut short.
std::string shown(std::string_view v) {
    std::string out;
    for (char c : v.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (v.size() > 64) out += "...";
    return out;
}

template <typename T>
std::optional<T> parse_uint(std::string_view s, T max) {
    uint64_t v = 0;
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    if (s.empty() || s.size() > 20) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
    return T(v);
}

std::optional<int> ip_family(std::string_view s) {
    if (s.empty() || s.size() > 45) return std::nullopt;
    std::string z(s);
    std::array<unsigned char, 16> buf;
    if (inet_pton(AF_INET, z.c_str(), buf.data()) == 1) return AF_INET;
    if (inet_pton(AF_INET6, z.c_str(), buf.data()) == 1) return AF_INET6;
    return std::nullopt;
}

// "addr" or "addr/prefix", IPv4 or IPv6. Returns "addr/prefix" in canonical text, or nullopt.
std::optional<std::string> parse_cidr(std::string_view s) {
    auto slash = s.find('/');
    std::string_view a = s.substr(0, slash);
    std::string z(a);
    std::array<unsigned char, 16> buf;
    int fam;
    if (z.size() <= 45 && inet_pton(AF_INET, z.c_str(), buf.data()) == 1)
        fam = AF_INET;
    else if (z.size() <= 45 && inet_pton(AF_INET6, z.c_str(), buf.data()) == 1)
        fam = AF_INET6;
    else
        return std::nullopt;
    unsigned max = fam == AF_INET ? 32 : 128, prefix = max;
    if (slash != std::string_view::npos) {
        std::string_view p = s.substr(slash + 1);
        if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
        auto v = parse_uint<unsigned>(p, max);
        if (!v) return std::nullopt;
        prefix = *v;
    }
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(fam, buf.data(), text, sizeof text)) return std::nullopt;
    return std::string(text) + "/" + std::to_string(prefix);
}

// A WireGuard key: canonical base64 of exactly 32 bytes (44 characters ending in '='), as wg
// requires. Returns "" or the reason.
std::string check_key(std::string_view v) {
    if (v.size() != BASE64_ENCODE_RAW_LENGTH(32) || v.back() != '=')
        return "is not a WireGuard key (base64 of 32 bytes: 44 characters ending in '=')";
    std::array<uint8_t, BASE64_DECODE_LENGTH(BASE64_ENCODE_RAW_LENGTH(32))> raw{};
    size_t n = raw.size();
    base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &n, raw.data(), v.size(), v.data()) || !base64_decode_final(&ctx) || n != 32)
        return "is not a WireGuard key (invalid base64)";
    std::array<char, BASE64_ENCODE_RAW_LENGTH(32)> again{};
    base64_encode_raw(again.data(), 32, raw.data());
    if (std::string_view(again.data(), again.size()) != v) return "is not a WireGuard key (non-canonical base64)";
    return "";
}

struct Parser {
    WgConfig c;
    Section section = Section::none;
    unsigned line = 0;
    unsigned interface_line = 0, peer_line = 0;
    bool has_endpoint = false;
    std::map<std::string, unsigned> seen;  // single-valued keys of the current section -> line
    std::string error;

    bool fail(std::string msg) {
        error = "line " + std::to_string(line) + ": " + std::move(msg);
        return false;
    }

    bool add_entry(std::vector<std::string>& list, std::string v, std::string_view key) {
        if (list.size() >= kWgConfigMaxListEntries)
            return fail("too many " + std::string(key) + " entries (at most " + std::to_string(kWgConfigMaxListEntries) + ")");
        list.push_back(std::move(v));
        return true;
    }

    bool section_line(std::string_view t) {
        if (t.back() != ']') return fail("malformed section header '" + shown(t) + "'");
        std::string name = lower(trim(t.substr(1, t.size() - 2)));
        seen.clear();
        if (name == "interface") {
            if (interface_line)
                return fail("a second [Interface] (the first is on line " + std::to_string(interface_line) + ")");
            interface_line = line;
            section = Section::interface;
            return true;
        }
        if (name == "peer") {
            if (peer_line)
                return fail("a second [Peer] (the first is on line " + std::to_string(peer_line) +
                            "): PAVE relays to exactly one VPN server; keep the [Peer] you want in a copy of the file");
            peer_line = line;
            section = Section::peer;
            return true;
        }
        return fail("unknown section '" + shown(t) + "' (expected [Interface] or [Peer])");
    }

    bool once(const std::string& key, std::string_view shown_key) {
        auto [it, fresh] = seen.emplace(key, line);
        if (!fresh)
            return fail(std::string(shown_key) + " given twice in this section (also on line " +
                        std::to_string(it->second) + ")");
        return true;
    }

    bool interface_key(const std::string& k, std::string_view key, std::string_view v) {
        auto bad = [&](std::string_view what) { return fail(std::string(key) + " '" + shown(v) + "' " + std::string(what)); };
        if (k == "privatekey") {
            if (!once(k, key)) return false;
            if (auto e = check_key(v); !e.empty()) return fail("PrivateKey " + e);
            c.private_key = std::string(v);
        } else if (k == "address") {
            for (auto a : split_list(v)) {
                if (!parse_cidr(a)) return fail("Address '" + shown(a) + "' is not an IPv4 or IPv6 address (with an optional /prefix)");
                if (!add_entry(c.addresses, std::string(a), key)) return false;
            }
        } else if (k == "dns") {
            for (auto d : split_list(v)) {
                // wg-quick: digits and dots, or anything with a colon, is a server; the rest are search domains.
                bool server = d.find_first_not_of("0123456789.") == std::string_view::npos || d.find(':') != std::string_view::npos;
                if (server) {
                    if (!ip_family(d)) return fail("DNS server '" + shown(d) + "' is not an IPv4 or IPv6 address");
                    if (!add_entry(c.dns, std::string(d), key)) return false;
                } else {
                    if (!valid_dns_name(d)) return fail("DNS search domain '" + shown(d) + "' is not a valid name");
                    if (!add_entry(c.dns_search, std::string(d), key)) return false;
                }
            }
        } else if (k == "mtu") {
            if (!once(k, key)) return false;
            auto m = parse_uint<uint32_t>(v, kWgMaxMtu);
            if (!m || *m < kWgMinMtu || v.find_first_not_of("0123456789") != std::string_view::npos)
                return bad("is not an MTU (" + std::to_string(kWgMinMtu) + " to " + std::to_string(kWgMaxMtu) + ")");
            c.mtu = *m;
        } else if (k == "table") {
            if (!once(k, key)) return false;
            if (v.empty() || v.size() > 64 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string_view::npos)
                return bad("is not a routing table (off, auto, a number or a name)");
            if (v.find_first_not_of("0123456789") == std::string_view::npos && !parse_uint<uint32_t>(v, UINT32_MAX))
                return bad("is not a routing table number (0 to 4294967295)");
            c.table = std::string(v);
        } else if (k == "fwmark") {
            if (!once(k, key)) return false;
            if (lower(v) == "off") {
                c.fwmark = 0;
            } else {
                auto m = parse_uint<uint32_t>(v, UINT32_MAX);
                if (!m) return bad("is not a firewall mark (off, or a number up to 0xffffffff)");
                c.fwmark = *m;
            }
        } else if (k == "listenport") {
            if (!once(k, key)) return false;
            auto p = v.find_first_not_of("0123456789") == std::string_view::npos ? parse_uint<uint16_t>(v, 65535) : std::nullopt;
            if (!p) return bad("is not a port (0 to 65535)");
            c.listen_port = *p;
        } else if (k == "saveconfig") {
            if (!once(k, key)) return false;
            std::string b = lower(v);
            if (b != "true" && b != "false") return bad("is not true or false");
            c.save_config = b == "true";
        } else if (k == "preup" || k == "postup" || k == "predown" || k == "postdown") {
            auto& list = k == "preup" ? c.pre_up : k == "postup" ? c.post_up : k == "predown" ? c.pre_down : c.post_down;
            if (!v.empty() && !add_entry(list, std::string(v), key)) return false;
        } else if (k == "publickey" || k == "presharedkey" || k == "allowedips" || k == "endpoint" ||
                   k == "persistentkeepalive") {
            return fail("'" + std::string(key) + "' belongs in [Peer], not [Interface]");
        } else {
            return fail("unknown key '" + shown(key) + "' in [Interface]");
        }
        return true;
    }

    bool endpoint(std::string_view v) {
        std::string err;
        auto hp = parse_host_port(v, 0, err);
        if (!hp) return fail("Endpoint '" + shown(v) + "': " + err);
        c.endpoint_host = std::move(hp->host);
        c.endpoint_port = hp->port;
        c.endpoint_is_name = hp->is_name;
        has_endpoint = true;
        return true;
    }

    bool peer_key(const std::string& k, std::string_view key, std::string_view v) {
        if (k == "publickey" || k == "presharedkey") {
            if (!once(k, key)) return false;
            if (auto e = check_key(v); !e.empty()) return fail(std::string(k == "publickey" ? "PublicKey " : "PresharedKey ") + e);
            (k == "publickey" ? c.public_key : c.preshared_key) = std::string(v);
        } else if (k == "allowedips") {
            for (auto a : split_list(v)) {
                auto cidr = parse_cidr(a);
                if (!cidr) return fail("AllowedIPs '" + shown(a) + "' is not an IPv4 or IPv6 address with an optional /prefix");
                if (!add_entry(c.allowed_ips, *cidr, key)) return false;
            }
        } else if (k == "endpoint") {
            if (!once(k, key)) return false;
            return endpoint(v);
        } else if (k == "persistentkeepalive") {
            if (!once(k, key)) return false;
            if (lower(v) == "off") {
                c.persistent_keepalive = 0;
            } else {
                auto p = v.find_first_not_of("0123456789") == std::string_view::npos ? parse_uint<uint16_t>(v, 65535) : std::nullopt;
                if (!p) return fail("PersistentKeepalive '" + shown(v) + "' is not off or 0 to 65535 seconds");
                c.persistent_keepalive = *p;
            }
        } else if (k == "privatekey" || k == "address" || k == "dns" || k == "mtu" || k == "table" || k == "fwmark" ||
                   k == "listenport" || k == "saveconfig" || k == "preup" || k == "postup" || k == "predown" ||
                   k == "postdown") {
            return fail("'" + std::string(key) + "' belongs in [Interface], not [Peer]");
        } else {
            return fail("unknown key '" + shown(key) + "' in [Peer]");
        }
        return true;
    }

    bool text_line(std::string_view raw) {
        // wg-quick drops everything from the first '#', hook lines included.
        std::string_view t = trim(raw.substr(0, raw.find('#')));
        if (t.empty()) return true;
        if (t.front() == '[') return section_line(t);
        auto eq = t.find('=');
        if (eq == std::string_view::npos) return fail("expected 'Key = value', got '" + shown(t) + "'");
        std::string_view key = trim(t.substr(0, eq)), v = trim(t.substr(eq + 1));
        if (key.empty()) return fail("a value without a key");
        if (section == Section::none) return fail("'" + shown(key) + "' before any [Interface] or [Peer] section");
        std::string k = lower(key);
        return section == Section::interface ? interface_key(k, key, v) : peer_key(k, key, v);
    }

    bool run(std::string_view text) {
        if (text.size() > kWgConfigMaxBytes)
            return fail("the file is larger than " + std::to_string(kWgConfigMaxBytes / 1024) + " KiB: not a WireGuard configuration");
        if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM (files saved on Windows)
        while (!text.empty()) {
            ++line;
            auto nl = text.find('\n');
            std::string_view l = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            if (l.find('\0') != std::string_view::npos) return fail("contains a NUL byte: not a text file");
            if (!text_line(l)) return false;
        }
        error.clear();
        if (!interface_line) return whole("no [Interface] section");
        if (c.private_key.empty()) return whole("[Interface] (line " + std::to_string(interface_line) + ") has no PrivateKey");
        if (!peer_line) return whole("no [Peer] section: PAVE needs the VPN server's [Peer] (PublicKey, Endpoint)");
        if (c.public_key.empty()) return whole("[Peer] (line " + std::to_string(peer_line) + ") has no PublicKey");
        if (!has_endpoint)
            return whole("[Peer] (line " + std::to_string(peer_line) +
                         ") has no Endpoint: this side only waits to be contacted, so there is no connection to the "
                         "VPN for PAVE to relay, and nothing to hide");
        if (c.public_key == c.private_key) return whole("[Peer] PublicKey is the same text as the PrivateKey");
        return true;
    }

    bool whole(std::string msg) {
        error = std::move(msg);
        return false;
    }
};

}  // namespace

std::string WgConfig::endpoint_text() const { return HostPort{endpoint_host, endpoint_port, endpoint_is_name}.text(); }

bool WgConfig::full_tunnel() const {
    for (const auto& a : allowed_ips)
        if (a == "0.0.0.0/0" || a == "::/0") return true;
    return false;
}

WgConfigResult parse_wg_config(std::string_view text) {
    Parser p;
    WgConfigResult r;
    if (p.run(text))
        r.config = std::move(p.c);
    else
        r.error = p.error.empty() ? "invalid configuration" : p.error;
    return r;
}

std::string wg_setconf_text(const WgConfig& c, const Endpoint& local) {
    std::string o;
    o += "# Derived by PAVE from a wg-quick file (which is left unchanged): the peer's Endpoint\n";
    o += "# is PAVE's local port, which relays to " + c.endpoint_text() + ".\n";
    o += "[Interface]\nPrivateKey = " + c.private_key + "\n";
    if (c.listen_port) o += "ListenPort = " + std::to_string(*c.listen_port) + "\n";
    if (c.fwmark && *c.fwmark) o += "FwMark = " + std::to_string(*c.fwmark) + "\n";
    o += "\n[Peer]\nPublicKey = " + c.public_key + "\n";
    if (!c.preshared_key.empty()) o += "PresharedKey = " + c.preshared_key + "\n";
    if (!c.allowed_ips.empty()) {
        o += "AllowedIPs = ";
        for (size_t i = 0; i < c.allowed_ips.size(); ++i) o += (i ? ", " : "") + c.allowed_ips[i];
        o += "\n";
    }
    o += "Endpoint = " + local.to_string() + "\n";
    if (c.persistent_keepalive && *c.persistent_keepalive)
        o += "PersistentKeepalive = " + std::to_string(*c.persistent_keepalive) + "\n";
    return o;
}

std::optional<std::string> wg_interface_name(std::string_view path) {
    auto slash = path.rfind('/');
    std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
    constexpr std::string_view ext = ".conf";
    if (file.size() <= ext.size() || file.substr(file.size() - ext.size()) != ext) return std::nullopt;
    std::string_view name = file.substr(0, file.size() - ext.size());
    if (!wg_interface_name_ok(name)) return std::nullopt;
    return std::string(name);
}

bool wg_interface_name_ok(std::string_view name) {
    // wg-quick's rule, and the kernel's (dev_valid_name): never "." or "..".
    if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '=' ||
              c == '+' || c == '.' || c == '-'))
            return false;
    return true;
}

}  // namespace pave
