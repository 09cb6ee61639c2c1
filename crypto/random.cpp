#include "crypto/random.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/chacha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pave {

namespace {
thread_local DeterministicRandomForTests* t_deterministic = nullptr;
}

DeterministicRandomForTests::DeterministicRandomForTests(uint64_t seed) : previous_(t_deterministic) {
    std::memset(key_, 0, sizeof key_);
    for (int i = 0; i < 8; ++i) key_[i] = uint8_t(seed >> (8 * i));
    t_deterministic = this;
}

DeterministicRandomForTests::~DeterministicRandomForTests() {
    t_deterministic = previous_;
    secure_zero(key_, sizeof key_);
}

void DeterministicRandomForTests::fill(std::span<uint8_t> buf) {
    // One fresh 64-byte keystream block per request (nonce = request counter): simple, and the
    // same seed gives the same sequence of answers.
    size_t done = 0;
    while (done < buf.size()) {
        chacha_ctx ctx;
        chacha_set_key(&ctx, key_);
        uint8_t nonce[CHACHA_NONCE_SIZE] = {};
        for (int i = 0; i < 8; ++i) nonce[i] = uint8_t(block_ >> (8 * i));
        ++block_;
        chacha_set_nonce(&ctx, nonce);
        uint8_t block[64] = {};
        chacha_crypt(&ctx, sizeof block, block, block);
        const size_t n = std::min(sizeof block, buf.size() - done);
        std::memcpy(buf.data() + done, block, n);
        done += n;
    }
}

void random_bytes(std::span<uint8_t> buf) {
    if (buf.empty()) return;
    if (t_deterministic) {
        t_deterministic->fill(buf);
        return;
    }
    if (gnutls_rnd(GNUTLS_RND_KEY, buf.data(), buf.size()) != 0) {
        std::fputs("fatal: random number generator failed\n", stderr);
        std::abort();
    }
}

uint64_t random_u64() {
    uint64_t v;
    random_bytes({reinterpret_cast<uint8_t*>(&v), sizeof v});
    return v;
}

uint64_t random_below(uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    for (;;) {
        uint64_t v = random_u64();
        if (v < limit) return v % bound;
    }
}

}  // namespace pave
