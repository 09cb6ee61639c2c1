// Fuzzes control frame parsing: random bytes into FrameCodec::open (fixed keys) and into
// decode_frame_plaintext. Never crashes; whatever decodes re-encodes to the same bytes; an
// accepted frame is never accepted twice; peek_conn_id agrees with the size rules.
#include <algorithm>
#include <cstdlib>

#include "relay/wire/control_frame.h"

using namespace pave;

namespace {

FrameKeys fixed_keys() {
    FrameKeys k;
    for (size_t i = 0; i < 32; ++i) {
        k.send_key.b[i] = uint8_t(i);
        k.recv_key.b[i] = uint8_t(i);  // same key both ways, so sealed frames can reach open()
    }
    for (size_t i = 0; i < 8; ++i) k.conn_id[i] = uint8_t(i);
    return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ByteView in(data, size);

    if (auto f = decode_frame_plaintext(in)) {
        const Bytes again = encode_frame_plaintext(*f);
        if (again.size() != size || !std::equal(again.begin(), again.end(), in.begin())) std::abort();
        // A decodable plaintext also survives a seal/open round trip.
        FrameCodec a(fixed_keys());
        FrameCodec b(fixed_keys());
        Frame out;
        const Bytes w = a.seal(*f);
        if (b.open(w, out) != FrameCodec::OpenError::none || !(out == *f)) std::abort();
        if (b.open(w, out) != FrameCodec::OpenError::replayed) std::abort();
    }

    static FrameCodec codec(fixed_keys());  // keeps its replay window across inputs
    Frame out;
    const auto e = codec.open(in, out);
    const auto id = peek_conn_id(in);
    if (e != FrameCodec::OpenError::malformed && !id) std::abort();
    if (id && (size < kFrameOverhead || size > kMaxFrameSize)) std::abort();
    if (e == FrameCodec::OpenError::none && codec.open(in, out) != FrameCodec::OpenError::replayed) std::abort();
    return 0;
}
