// Name resolution for user-given "host:port" (blocking; used before the loop starts).
#pragma once
#include <optional>
#include <string>

#include "relay/endpoint.h"

namespace pave {

// Numeric forms are parsed directly; names go through getaddrinfo (IPv4 preferred).
// On failure returns nullopt and sets `error` to a one-line reason.
std::optional<Endpoint> resolve_host_port(const std::string& text, std::string& error);

}  // namespace pave
