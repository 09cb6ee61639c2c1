#include "node/config/wg_state_record.h"

#include <charconv>

namespace pave {

namespace {

constexpr size_t kMaxValue = 4096;

template <typename T>
bool number(std::string_view v, T& out, T max) {
    T x{};
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || p != v.data() + v.size() || x > max) return false;
    out = x;
    return true;
}

}  // namespace

std::string wg_record_text(const WgRecord& r, std::string& error) {
    error.clear();
    std::string o;
    auto line = [&](const char* k, const std::string& v) {
        if (v.empty()) return;
        if (v.size() > kMaxValue || v.find_first_of("\r\n") != std::string::npos) error = std::string("cannot record ") + k;
        o += std::string(k) + " " + v + "\n";
    };
    line("mode", r.mode);
    line("pid", std::to_string(r.pid));
    line("iface", r.iface);
    line("config", r.config);
    line("derived", r.derived);
    line("local", r.local);
    line("vpn", r.vpn);
    line("peer", r.peer);
    line("original_endpoint", r.original_endpoint);
    line("interface_up", r.interface_up ? "1" : "0");
    line("fwmark", std::to_string(r.fwmark));
    line("policy_routing", r.policy_routing ? "1" : "0");
    return error.empty() ? o : "";
}

std::optional<WgRecord> parse_wg_record(std::string_view text, std::string& error) {
    error.clear();
    if (text.size() > kWgRecordMaxBytes) {
        error = "too large to be PAVE's record";
        return std::nullopt;
    }
    WgRecord r;
    bool have_pid = false;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        size_t sp = l.find(' ');
        if (sp == std::string_view::npos) continue;
        std::string_view k = l.substr(0, sp), v = l.substr(sp + 1);
        bool ok = true;
        if (k == "mode") r.mode = v;
        else if (k == "pid") ok = have_pid = number<int64_t>(v, r.pid, int64_t(1) << 22) && r.pid > 0;
        else if (k == "iface") r.iface = v;
        else if (k == "config") r.config = v;
        else if (k == "derived") r.derived = v;
        else if (k == "local") r.local = v;
        else if (k == "vpn") r.vpn = v;
        else if (k == "peer") r.peer = v;
        else if (k == "original_endpoint") r.original_endpoint = v;
        else if (k == "interface_up") r.interface_up = v == "1";
        else if (k == "fwmark") ok = number<uint32_t>(v, r.fwmark, UINT32_MAX);
        else if (k == "policy_routing") r.policy_routing = v == "1";
        if (!ok) {
            error = "bad " + std::string(k) + " '" + std::string(v.substr(0, 20)) + "'";
            return std::nullopt;
        }
    }
    if ((r.mode != "up" && r.mode != "attach") || !have_pid) {
        error = "incomplete (no mode or pid)";
        return std::nullopt;
    }
    if (r.iface.empty() || r.iface.size() > 15 || r.iface.find('/') != std::string::npos || r.iface == "." ||
        r.iface == "..") {
        error = "bad interface name";
        return std::nullopt;
    }
    return r;
}

}  // namespace pave
