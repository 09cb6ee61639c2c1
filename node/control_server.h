// The running node's control socket: a unix stream socket (mode 0600) in the state dir.
// Protocol: the client sends one command per line; every reply is text terminated by a NUL
// byte. Commands are answered on the loop thread by the handler.
#pragma once
#include <uv.h>

#include <functional>
#include <string>

#include "node/uv_handle.h"

namespace pave {

class ControlServer {
public:
    // The handler answers each command through `reply`, now or later (e.g. after a DHT get).
    using Reply = std::function<void(std::string)>;
    using Handler = std::function<void(const std::string& line, Reply reply)>;
    explicit ControlServer(uv_loop_t* loop);
    ~ControlServer();
    // Returns "" or a one-line error (e.g. another node already serves this socket).
    std::string open(const std::string& path, Handler handler);
    void close();

private:
    static void on_connection(uv_stream_t* server, int status);
    uv_loop_t* loop_;
    UvHandle<uv_pipe_t> pipe_;
    std::string path_;
    Handler handler_;
};

}  // namespace pave
