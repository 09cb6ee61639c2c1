// Name resolution for user-given "host:port".
#pragma once
#include <uv.h>

#include <functional>
#include <optional>
#include <string>

#include "relay/wire/endpoint.h"

namespace pave {

// Numeric forms are parsed directly; names go through getaddrinfo (IPv4 preferred).
// On failure returns nullopt and sets `error` to a one-line reason. Blocks: for use before
// the loop starts.
std::optional<Endpoint> resolve_host_port(const std::string& text, std::string& error);

// The same without blocking the loop: names go through uv_getaddrinfo (libuv's thread pool).
// `done` runs exactly once on the loop thread, with the address or a one-line reason; for a
// numeric form or a malformed text it runs before this returns.
using ResolveDone = std::function<void(std::optional<Endpoint>, const std::string& error)>;
void resolve_host_port_async(uv_loop_t* loop, const std::string& text, ResolveDone done);

}  // namespace pave
