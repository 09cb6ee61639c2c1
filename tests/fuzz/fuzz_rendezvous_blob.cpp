// Feeds arbitrary bytes to the rendezvous plaintext decoders and to the sealed-value openers.
// A plaintext that decodes must re-encode to the same bytes (one encoding per message).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dht/rendezvous_blob.h"

namespace {

// Fixed keys so that the fuzzer can reach the decryption and (rarely) the decoders behind it.
const pave::X25519Key& fixed_key() {
    static const pave::X25519Key k = [] {
        pave::SecretArray<32> s;
        for (size_t i = 0; i < 32; ++i) s.b[i] = uint8_t(0x40 + i);
        return pave::X25519Key::from_private(s);
    }();
    return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pave::ByteView in(data, size);

    if (auto offer = pave::decode_offer_plaintext(in)) {
        auto again = pave::encode_offer_plaintext(*offer);
        if (!again || std::memcmp(again->data(), data, size) != 0) std::abort();
    }
    if (auto answer = pave::decode_answer_plaintext(in)) {
        auto again = pave::encode_answer_plaintext(*answer);
        if (!again || std::memcmp(again->data(), data, size) != 0) std::abort();
    }

    // Inputs shorter than a plaintext are also tried padded with zeros, which is where
    // valid plaintexts live.
    if (size < pave::kRendezvousPlaintextSize) {
        pave::RendezvousPlaintext padded{};
        if (size) std::memcpy(padded.data(), data, size);
        if (auto offer = pave::decode_offer_plaintext(padded)) {
            auto again = pave::encode_offer_plaintext(*offer);
            if (!again || *again != padded) std::abort();
        }
        if (auto answer = pave::decode_answer_plaintext(padded)) {
            auto again = pave::encode_answer_plaintext(*answer);
            if (!again || *again != padded) std::abort();
        }
    }

    pave::Ed25519Public relay_pub{};
    uint8_t material[pave::kAnswerKeyMaterialSize] = {};
    (void)pave::open_offer(in, fixed_key(), relay_pub, 1);
    (void)pave::open_answer(in, fixed_key(), pave::ByteView(material, sizeof material));
    (void)pave::rendezvous_hello_id(in);
    return 0;
}
