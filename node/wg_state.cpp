#include "node/wg_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/file.h>
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
    std::string err;
    std::string text = wg_record_text(s, err);
    if (!err.empty()) return err;
    std::string tmp = wg_state_path(dir) + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
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
    std::ifstream f(wg_state_path(dir), std::ios::binary);
    if (!f) return std::nullopt;
    std::string text(kWgRecordMaxBytes + 1, '\0');
    f.read(text.data(), std::streamsize(text.size()));
    text.resize(size_t(f.gcount()));
    auto r = parse_wg_record(text, error);
    if (!r) error = wg_state_path(dir) + ": " + error;
    return r;
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
        if (n.empty() || n[0] == '.' || n.size() > 15) continue;  // ".", "..", the .IFACE.lock files
        out.push_back(n);
    }
    closedir(d);
    return out;
}

namespace {
std::string exe_of(const std::string& proc) {
    char buf[4096];
    ssize_t n = ::readlink((proc + "/exe").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}
}  // namespace

int lock_wg_interface(const std::string& iface, std::string& error) {
    const std::string base = wg_runtime_base();
    if (std::string err = prepare_wg_runtime_dir(base); !err.empty()) {
        error = err;
        return -1;
    }
    const std::string path = base + "/." + iface + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        error = "cannot open " + path + ": " + std::strerror(errno);
        return -1;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        error = errno == EWOULDBLOCK ? "another pave wg runs for " + iface + " (it holds " + path + ")"
                                     : "cannot lock " + path + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

bool pave_wg_process_alive(int64_t pid) {
    if (pid <= 0 || pid > (int64_t(1) << 22) || (::kill(pid_t(pid), 0) != 0 && errno != EPERM)) return false;
    // A reused pid runs another program: never signal it.
    const std::string mine = exe_of("/proc/self"), theirs = exe_of("/proc/" + std::to_string(pid));
    if (mine.empty() || theirs != mine) return false;
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.size() > 65536) cmd.resize(65536);
    // A zombie has an empty command line: it is gone for our purposes.
    return cmd.find(std::string("\0wg\0", 4)) != std::string::npos;
}

bool interface_exists(const std::string& iface) { return if_nametoindex(iface.c_str()) != 0; }

}  // namespace pave
