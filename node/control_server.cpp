#include "node/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace pave {

namespace {

constexpr size_t kMaxLine = 4096;

struct Connection {
    uv_pipe_t pipe;
    std::string buffer;
    ControlServer::Handler* handler;
    // Replies may arrive after the peer hung up: they check this flag, shared with them.
    std::shared_ptr<bool> open = std::make_shared<bool>(true);
};

bool socket_alive(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    bool alive = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return alive;
}

void close_connection(Connection* c) {
    if (!*c->open) return;
    *c->open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

void write_reply(Connection* c, std::string reply) {
    reply.push_back('\0');
    auto* req = new uv_write_t;
    auto* data = new std::string(std::move(reply));
    req->data = data;
    uv_buf_t buf = uv_buf_init(data->data(), unsigned(data->size()));
    int rc = uv_write(req, reinterpret_cast<uv_stream_t*>(&c->pipe), &buf, 1, [](uv_write_t* r, int) {
        delete static_cast<std::string*>(r->data);
        delete r;
    });
    if (rc != 0) {
        delete data;
        delete req;
    }
}

void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(s->data);
    if (n < 0) {
        delete[] buf->base;
        close_connection(c);
        return;
    }
    c->buffer.append(buf->base, size_t(n));
    delete[] buf->base;
    size_t nl;
    while ((nl = c->buffer.find('\n')) != std::string::npos) {
        std::string line = c->buffer.substr(0, nl);
        c->buffer.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        (*c->handler)(line, [c, open = c->open](std::string reply) {
            if (*open) write_reply(c, std::move(reply));
        });
    }
    if (c->buffer.size() > kMaxLine) {
        write_reply(c, "error: command too long");
        close_connection(c);
    }
}

}  // namespace

ControlServer::ControlServer(uv_loop_t* loop) : loop_(loop) {}
ControlServer::~ControlServer() { close(); }

std::string ControlServer::open(const std::string& path, Handler handler) {
    handler_ = std::move(handler);
    if (path.size() >= sizeof(sockaddr_un::sun_path)) return "control socket path too long: " + path;
    if (access(path.c_str(), F_OK) == 0) {
        if (socket_alive(path)) return "another node is already running with this state directory (" + path + ")";
        unlink(path.c_str());  // stale socket of a node that is gone
    }
    uv_pipe_init(loop_, pipe_.create(), 0);
    pipe_->data = this;
    mode_t old = umask(0177);  // the socket is created 0600
    int rc = uv_pipe_bind(pipe_, path.c_str());
    umask(old);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(pipe_.get()), 16, &ControlServer::on_connection);
    if (rc != 0) {
        std::string err = "cannot open control socket " + path + ": " + uv_strerror(rc);
        close();
        return err;
    }
    chmod(path.c_str(), 0600);
    path_ = path;
    return "";
}

void ControlServer::close() {
    if (!pipe_) return;
    pipe_.close();
    if (!path_.empty()) unlink(path_.c_str());
    path_.clear();
}

void ControlServer::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<ControlServer*>(server->data);
    if (status < 0 || !self) return;
    auto* c = new Connection;
    c->handler = &self->handler_;
    uv_pipe_init(self->loop_, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) {
        close_connection(c);
        return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->pipe),
        [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(new char[1024], 1024); }, on_read);
}

}  // namespace pave
