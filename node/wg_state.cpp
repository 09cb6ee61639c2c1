#include "node/wg_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "node/state_dir.h"

namespace pave {

namespace {

constexpr size_t kMaxStateBytes = 16 * 1024;

bool valid_value(const std::string& v) { return v.find_first_of("\n\r") == std::string::npos && v.size() < 4096; }

}  // namespace

std::string wg_runtime_base() {
    if (const char* b = std::getenv("PAVE_RUNTIME_DIR"); b && *b == '/') return std::string(b) + "/wg";
    return kWgRuntimeBase;
}

std::string wg_runtime_dir(const std::string& iface) { return wg_runtime_base() + "/" + iface; }

std::string prepare_wg_runtime_dir(const std::string& dir) {
    if (std::string err = prepare_state_dir(dir); !err.empty()) return err;
    if (chmod(dir.c_str(), 0700) != 0) return "cannot make " + dir + " private: " + std::strerror(errno);
    return "";
}

std::string write_wg_state(const std::string& dir, const WgState& s) {
    std::ostringstream o;
    auto line = [&](const char* k, const std::string& v) {
        if (!v.empty()) o << k << " " << v << "\n";
    };
    line("mode", s.mode);
    line("pid", std::to_string(s.pid));
    line("iface", s.iface);
    line("config", s.config);
    line("derived", s.derived);
    line("local", s.local);
    line("vpn", s.vpn);
    line("peer", s.peer);
    line("original_endpoint", s.original_endpoint);
    line("interface_up", s.interface_up ? "1" : "0");
    for (const std::string* v : {&s.mode, &s.iface, &s.config, &s.derived, &s.local, &s.vpn, &s.peer,
                                 &s.original_endpoint})
        if (!valid_value(*v)) return "a value to record has a line break or is too long";
    std::string tmp = wg_state_path(dir) + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
    std::string text = o.str();
    bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), wg_state_path(dir).c_str()) != 0) {
        ::unlink(tmp.c_str());
        return "cannot write " + wg_state_path(dir) + ": " + std::strerror(errno);
    }
    return "";
}

std::optional<WgState> read_wg_state(const std::string& dir, std::string& error) {
    error.clear();
    std::ifstream f(wg_state_path(dir));
    if (!f) return std::nullopt;
    std::string text(kMaxStateBytes + 1, '\0');
    f.read(text.data(), std::streamsize(text.size()));
    text.resize(size_t(f.gcount()));
    if (text.size() > kMaxStateBytes) {
        error = wg_state_path(dir) + " is too large to be PAVE's record";
        return std::nullopt;
    }
    WgState s;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) {
        auto sp = l.find(' ');
        if (sp == std::string::npos) continue;
        std::string k = l.substr(0, sp), v = l.substr(sp + 1);
        if (k == "mode") s.mode = v;
        else if (k == "pid") {
            long p = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
            if (ec != std::errc() || end != v.data() + v.size() || p <= 0 || p > (1L << 22)) {
                error = wg_state_path(dir) + ": bad pid '" + v.substr(0, 20) + "'";
                return std::nullopt;
            }
            s.pid = pid_t(p);
        } else if (k == "iface") s.iface = v;
        else if (k == "config") s.config = v;
        else if (k == "derived") s.derived = v;
        else if (k == "local") s.local = v;
        else if (k == "vpn") s.vpn = v;
        else if (k == "peer") s.peer = v;
        else if (k == "original_endpoint") s.original_endpoint = v;
        else if (k == "interface_up") s.interface_up = v == "1";
    }
    if ((s.mode != "up" && s.mode != "attach") || s.iface.empty()) {
        error = wg_state_path(dir) + " is incomplete (no mode or interface)";
        return std::nullopt;
    }
    return s;
}

void remove_wg_runtime(const std::string& dir, const WgState& s) {
    if (!s.derived.empty() && s.derived.rfind(dir + "/", 0) == 0) ::unlink(s.derived.c_str());
    ::unlink(wg_control_path(dir).c_str());
    ::unlink((wg_state_path(dir) + ".tmp").c_str());
    ::unlink(wg_state_path(dir).c_str());
    ::rmdir(dir.c_str());
}

std::vector<std::string> wg_runtime_interfaces() {
    std::vector<std::string> out;
    DIR* d = opendir(wg_runtime_base().c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != ".." && n.size() <= 15) out.push_back(n);
    }
    closedir(d);
    return out;
}

bool pave_wg_process_alive(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.size() > 65536) cmd.resize(65536);
    // A zombie has an empty command line: it is gone for our purposes.
    return cmd.find(std::string("\0wg\0", 4)) != std::string::npos;
}

bool interface_exists(const std::string& iface) { return if_nametoindex(iface.c_str()) != 0; }

}  // namespace pave
