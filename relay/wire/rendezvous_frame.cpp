#include "relay/wire/rendezvous_frame.h"

#include <algorithm>

#include "crypto/random.h"

namespace pave {

bool is_rendezvous_frame(ByteView pkt) {
    return (pkt.size() == kRendezvousHelloSize || pkt.size() == kRendezvousAnswerFrameSize) &&
           pkt[0] == kRendezvousFrameByte;
}

std::optional<RendezvousFrame> parse_rendezvous_frame(ByteView pkt) {
    if (!is_rendezvous_frame(pkt)) return std::nullopt;
    RendezvousFrame f;
    f.kind = pkt.size() == kRendezvousHelloSize ? RendezvousFrame::Kind::hello : RendezvousFrame::Kind::answer;
    std::copy_n(pkt.begin() + 1, kRendezvousHelloIdSize, f.id.begin());
    if (f.kind == RendezvousFrame::Kind::answer) f.sealed = pkt.subspan(kRendezvousFrameHeader);
    return f;
}

Bytes make_rendezvous_hello(const HelloId& id) {
    Bytes out(kRendezvousHelloSize);
    out[0] = kRendezvousFrameByte;
    std::copy(id.begin(), id.end(), out.begin() + 1);
    random_bytes(std::span<uint8_t>(out).subspan(kRendezvousFrameHeader));
    return out;
}

Bytes make_rendezvous_opener() {
    Bytes out(kRendezvousOpenerSize);
    out[0] = kRendezvousFrameByte;
    random_bytes(std::span<uint8_t>(out).subspan(1));
    return out;
}

Bytes make_rendezvous_answer(const HelloId& id, ByteView sealed) {
    if (sealed.size() != kRendezvousSealedSize) return {};
    Bytes out;
    out.reserve(kRendezvousAnswerFrameSize);
    out.push_back(kRendezvousFrameByte);
    out.insert(out.end(), id.begin(), id.end());
    out.insert(out.end(), sealed.begin(), sealed.end());
    return out;
}

}  // namespace pave
