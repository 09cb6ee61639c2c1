// The client side of a running node's control socket (node/control_server.h): one command per
// line, each reply NUL-terminated. Used by `pave shell` and `pave status`.
#pragma once
#include <string>

namespace pave {

class ControlClient {
public:
    ControlClient() = default;
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;
    // Connects to the socket at `path`. "" or a one-line error.
    std::string open(const std::string& path);
    // Sends one command and waits (at most timeout_ms between reads) for the reply; replies
    // longer than 16 MiB are refused. False if the node did not answer.
    bool request(const std::string& line, std::string& reply, int timeout_ms = 15000);

private:
    int fd_ = -1;
};

}  // namespace pave
