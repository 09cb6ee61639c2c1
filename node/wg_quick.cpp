#include "node/wg_quick.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "node/run_program.h"

namespace pave {

namespace {

std::string first_line(const std::string& s) {
    std::string l = s.substr(0, s.find('\n'));
    return l.size() > 200 ? l.substr(0, 200) : l;
}

std::string failed(const std::string& what, const ProgramResult& r) {
    if (!r.error.empty()) return what + ": " + r.error;
    return what + " exited " + std::to_string(r.status) + (r.output.empty() ? "" : ": " + first_line(r.output));
}

}  // namespace

std::string write_private_file(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
    bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return "cannot write " + path + ": " + std::strerror(errno);
    }
    return "";
}

bool wg_quick_can_apply_dns() { return program_in_path("resolvconf"); }

std::string wg_quick(const std::string& verb, const std::string& file) {
    std::vector<std::string> env;
    if (!std::getenv("WG_QUICK_USERSPACE_IMPLEMENTATION")) env.push_back("WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go");
    auto r = run_program({"wg-quick", verb, file}, env);
    if (r.status == 0) return "";
    return failed("wg-quick " + verb, r);
}

std::string remove_wg_quick_routing(const std::string& iface, uint32_t table) {
    const std::string lookup = "lookup " + std::to_string(table);
    const std::string suppress = "from all lookup main suppress_prefixlength 0";
    for (const char* proto : {"-4", "-6"}) {
        for (const std::string& needle : {lookup, suppress}) {
            for (int i = 0; i < 64; ++i) {  // wg-quick deletes while any is left
                auto shown = run_program({"ip", proto, "rule", "show"}, {}, true);
                if (shown.status != 0 || shown.output.find(needle) == std::string::npos) break;
                std::vector<std::string> del = {"ip", proto, "rule", "delete", "table"};
                if (needle == lookup) del.push_back(std::to_string(table));
                else del.insert(del.end(), {"main", "suppress_prefixlength", "0"});
                auto r = run_program(del);
                if (r.status != 0) return failed("ip " + std::string(proto) + " rule delete", r);
            }
        }
    }
    // wireguard-go's control socket, which it removes only when it exits normally.
    ::unlink(("/var/run/wireguard/" + iface + ".sock").c_str());
    auto tables = run_program({"nft", "list", "tables"}, {}, true);
    for (const char* family : {"ip", "ip6"}) {
        std::string name = std::string("table ") + family + " wg-quick-" + iface + "\n";
        if (tables.status == 0 && tables.output.find(name) != std::string::npos) {
            auto r = run_program({"nft", "delete", "table", family, "wg-quick-" + iface});
            if (r.status != 0) return failed("nft delete table", r);
        }
    }
    return "";
}

std::optional<std::vector<WgPeerEndpoint>> wg_show_endpoints(const std::string& iface, std::string& error) {
    auto r = run_program({"wg", "show", iface, "endpoints"}, {}, true);
    if (r.status != 0) {
        error = failed("wg show " + iface + " endpoints", r);
        return std::nullopt;
    }
    std::vector<WgPeerEndpoint> out;
    std::istringstream in(r.output);
    std::string l;
    while (std::getline(in, l) && out.size() < 4096) {
        auto tab = l.find('\t');
        if (tab == std::string::npos) continue;
        out.push_back({l.substr(0, tab), l.substr(tab + 1)});
    }
    return out;
}

std::optional<uint32_t> wg_show_fwmark(const std::string& iface, std::string& error) {
    auto r = run_program({"wg", "show", iface, "fwmark"}, {}, true);
    if (r.status != 0) {
        error = failed("wg show " + iface + " fwmark", r);
        return std::nullopt;
    }
    std::string v = first_line(r.output);
    if (v == "off" || v.empty()) return 0;
    int base = 10;
    if (v.rfind("0x", 0) == 0) {
        v = v.substr(2);
        base = 16;
    }
    uint32_t m = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), m, base);
    if (ec != std::errc() || p != v.data() + v.size()) {
        error = "wg show " + iface + " fwmark: unexpected '" + v + "'";
        return std::nullopt;
    }
    return m;
}

std::string wg_set_endpoint(const std::string& iface, const std::string& key, const std::string& endpoint) {
    auto r = run_program({"wg", "set", iface, "peer", key, "endpoint", endpoint});
    return r.status == 0 ? "" : failed("wg set " + iface + " peer ... endpoint " + endpoint, r);
}

}  // namespace pave
