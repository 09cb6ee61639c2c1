#include "node/resolve.h"

#include <netdb.h>

#include <charconv>
#include <memory>

namespace pave {

namespace {

// Splits "host:port" and checks the port; false with `error` set otherwise.
bool split_host_port(const std::string& text, std::string& host, std::string& port, std::string& error) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        error = "'" + text + "' is not HOST:PORT";
        return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) {
        error = "invalid port in '" + text + "'";
        return false;
    }
    return true;
}

// The first usable address, IPv4 preferred.
std::optional<Endpoint> pick(const addrinfo* res, const std::string& host, std::string& error) {
    std::optional<Endpoint> best;
    for (const addrinfo* a = res; a; a = a->ai_next) {
        auto e = Endpoint::from_sockaddr(a->ai_addr, a->ai_addrlen);
        if (e && (!best || (e->family() == AF_INET && best->family() != AF_INET))) best = e;
    }
    if (!best) error = "no usable address for '" + host + "'";
    return best;
}

struct AsyncResolve {
    uv_getaddrinfo_t req{};
    std::string host;
    ResolveDone done;
};

}  // namespace

std::optional<Endpoint> resolve_host_port(const std::string& text, std::string& error) {
    if (auto e = Endpoint::parse(text)) return e;
    std::string host, port;
    if (!split_host_port(text, host, port, error)) return std::nullopt;
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        error = "cannot resolve '" + host + "': " + gai_strerror(rc);
        return std::nullopt;
    }
    auto best = pick(res, host, error);
    freeaddrinfo(res);
    return best;
}

void resolve_host_port_async(uv_loop_t* loop, const std::string& text, ResolveDone done) {
    if (auto e = Endpoint::parse(text)) return done(e, "");
    std::string host, port, error;
    if (!split_host_port(text, host, port, error)) return done(std::nullopt, error);
    auto r = std::make_unique<AsyncResolve>();
    r->host = host;
    r->done = std::move(done);
    r->req.data = r.get();
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    int rc = uv_getaddrinfo(
        loop, &r->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
            std::unique_ptr<AsyncResolve> self(static_cast<AsyncResolve*>(req->data));
            std::string err;
            std::optional<Endpoint> best;
            if (status != 0 || !res) err = "cannot resolve '" + self->host + "': " + uv_strerror(status);
            else best = pick(res, self->host, err);
            if (res) uv_freeaddrinfo(res);
            self->done(best, err);
        },
        host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
        auto d = std::move(r->done);
        return d(std::nullopt, "cannot resolve '" + host + "': " + uv_strerror(rc));
    }
    r.release();  // owned by the request until its callback
}

}  // namespace pave
