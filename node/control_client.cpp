#include "node/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pave {

namespace {
constexpr size_t kMaxReply = 16 << 20;
}

ControlClient::~ControlClient() {
    if (fd_ >= 0) ::close(fd_);
}

std::string ControlClient::open(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::string("cannot create socket: ") + std::strerror(errno);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) return "control socket path too long: " + path;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        return "cannot reach the node at " + path + ": " + std::strerror(errno) + " (is `pave node` running?)";
    return "";
}

bool ControlClient::request(const std::string& line, std::string& reply, int timeout_ms) {
    std::string out = line + "\n";
    if (::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != ssize_t(out.size())) return false;
    reply.clear();
    char buf[4096];
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return false;
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == '\0') return true;
            reply.push_back(buf[i]);
        }
        if (reply.size() > kMaxReply) return false;
    }
}

}  // namespace pave
