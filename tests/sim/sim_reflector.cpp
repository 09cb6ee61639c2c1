#include "tests/sim/sim_reflector.h"

#include "relay/wire/stun.h"

namespace pave::sim {

SimReflector::SimReflector(SimNetwork& net, const Endpoint& at)
    : net_(net), sock_(net.bind(at, [this](const Endpoint& from, ByteView data) {
          Bytes out;
          if (handle_request(data, from, out) == StunAction::ignore) return;
          ++answered_;
          sock_.send(from, out);
      })) {}

SimReflector::~SimReflector() { net_.close(sock_); }

}  // namespace pave::sim
