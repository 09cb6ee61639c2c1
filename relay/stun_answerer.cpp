#include "relay/stun_answerer.h"

#include "relay/wire/stun.h"

namespace pave {

std::optional<Bytes> StunAnswerer::answer(ByteView request, const Endpoint& from, time_point now) {
    Bytes out;
    if (handle_request(request, from, out) == StunAction::ignore) return std::nullopt;
    if (!per_source_.allow(from, now) || !total_.take(now)) {
        ++rate_limited_;
        return std::nullopt;
    }
    return out;
}

}  // namespace pave
