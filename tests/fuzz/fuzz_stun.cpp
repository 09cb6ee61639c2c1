// Fuzzes the STUN parsers and the server handler: no crash, no out-of-bounds read, and every
// answer is itself a well-formed STUN message of bounded size.
#include <cstdlib>

#include "relay/wire/stun.h"

using namespace pave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ByteView in(data, size);
    auto m = parse_stun_message(in);
    auto req = parse_binding_request(in);
    if (req && !m) std::abort();

    StunTxId tx{};
    if (size >= 20) std::copy(data + 8, data + 20, tx.begin());
    (void)parse_binding_response(in, tx);

    static const auto from4 = Endpoint::parse("192.0.2.1:32853");
    static const auto from6 = Endpoint::parse("[2001:db8::1]:32853");
    for (const auto& from : {from4, from6}) {
        Bytes out;
        const StunAction a = handle_request(in, *from, out);
        if (a == StunAction::ignore) {
            if (!out.empty()) std::abort();
            continue;
        }
        if (out.size() > 92) std::abort();
        auto reply = parse_stun_message(out);
        if (!reply || !reply->has_fingerprint || reply->txid != req->txid) std::abort();
        if (a == StunAction::answer_success) {
            auto mapped = parse_binding_response(out, req->txid);
            if (!mapped || !(*mapped == *from)) std::abort();
        } else if (reply->error_code != uint16_t(420)) {
            std::abort();
        }
    }
    return 0;
}
