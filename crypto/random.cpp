#include "crypto/random.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <cstdio>
#include <cstdlib>

namespace pave {

void random_bytes(std::span<uint8_t> buf) {
    if (buf.empty()) return;
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
