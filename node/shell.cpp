#include "node/shell.h"

#include <editline/readline.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace pave {

namespace {

class Connection {
public:
    ~Connection() {
        if (fd_ >= 0) ::close(fd_);
    }
    std::string open(const std::string& path) {
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
    // Sends one command and waits (bounded) for the NUL-terminated reply.
    bool request(const std::string& line, std::string& reply, int timeout_ms = 15000) {
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
        }
    }

private:
    int fd_ = -1;
};

}  // namespace

int run_shell(const std::string& socket_path, const std::string& command, const std::string& history_path) {
    Connection conn;
    if (std::string err = conn.open(socket_path); !err.empty()) {
        std::cerr << "pave: error: " << err << "\n";
        return 1;
    }
    std::string reply;
    if (!command.empty()) {
        if (!conn.request(command, reply)) {
            std::cerr << "pave: error: the node did not answer\n";
            return 1;
        }
        std::cout << reply;
        if (!reply.empty() && reply.back() != '\n') std::cout << "\n";
        return reply.rfind("error:", 0) == 0 ? 1 : 0;
    }
    using_history();
    read_history(history_path.c_str());
    for (;;) {
        char* raw = readline("pave> ");
        if (!raw) break;
        std::string line(raw);
        free(raw);
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        add_history(line.c_str());
        if (line == "quit" || line == "exit") break;
        if (!conn.request(line, reply)) {
            std::cerr << "pave: error: the node did not answer\n";
            break;
        }
        std::cout << reply;
        if (!reply.empty() && reply.back() != '\n') std::cout << "\n";
    }
    write_history(history_path.c_str());
    return 0;
}

}  // namespace pave
