// What one presence record costs to make and to check, and what a proof of work over the node
// key would add: the argument behind PAVE's choice of Sybil cost (README, "Guards").
//
// Printed, in one run on this machine:
//   - making a record: an Ed25519 key and a signed record (what a Sybil pays today);
//   - checking a record as a reader does (parse, X25519 low-order check, Ed25519 verification);
//   - a hashcash-style proof of work over the node key, SHA-256("pave/v1/pow" | key | nonce)
//     with d leading zero bits (nettle's SHA-256), at d = 16, 20, 24: seconds to find one (the
//     mean of several keys) against the one hash a reader needs to check it.
// Usage: pave-bench-sybil [max_bits]   (default 24)
#include <nettle/sha2.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "crypto/ed25519_key.h"
#include "crypto/x25519.h"
#include "dht/presence_record.h"

using namespace pave;
using Clock = std::chrono::steady_clock;

namespace {

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

unsigned leading_zero_bits(const uint8_t* d) {
    unsigned n = 0;
    for (int i = 0; i < SHA256_DIGEST_SIZE; ++i) {
        if (d[i] == 0) {
            n += 8;
            continue;
        }
        for (int b = 7; b >= 0 && !(d[i] >> b & 1); --b) ++n;
        break;
    }
    return n;
}

unsigned pow_bits(const Ed25519Public& key, uint64_t nonce) {
    static const char label[] = "pave/v1/pow";
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, sizeof label - 1, reinterpret_cast<const uint8_t*>(label));
    sha256_update(&ctx, key.size(), key.data());
    uint8_t n[8];
    for (int i = 0; i < 8; ++i) n[i] = uint8_t(nonce >> (8 * i));
    sha256_update(&ctx, sizeof n, n);
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    return leading_zero_bits(d);
}

}  // namespace

int main(int argc, char** argv) {
    unsigned max_bits = argc > 1 ? unsigned(std::atoi(argv[1])) : 24;
    const int kRecords = 200;
    PresenceRecord f;
    f.period_secs = 600;
    f.period = 1'700'000'000 / 600;
    f.capacity = 64;
    f.expires = f.period * 600 + 600;
    f.inbox_pub = X25519Key::generate().pub;

    std::vector<Bytes> records;
    auto t0 = Clock::now();
    for (int i = 0; i < kRecords; ++i) records.push_back(encode_presence(f, Ed25519Key::generate()));
    double make = secs(Clock::now() - t0) / kRecords;
    t0 = Clock::now();
    int ok = 0;
    for (const auto& r : records) ok += decode_and_verify_presence(r).record ? 1 : 0;
    double check = secs(Clock::now() - t0) / kRecords;
    std::printf("a record: made (fresh Ed25519 key, signature) in %.1f us; checked by a reader in %.1f us (%d/%d valid)\n",
                make * 1e6, check * 1e6, ok, kRecords);

    Ed25519Public key = Ed25519Key::generate().public_key();
    t0 = Clock::now();
    volatile unsigned sink = 0;
    const int kHashes = 200000;
    for (int i = 0; i < kHashes; ++i) sink = sink + pow_bits(key, uint64_t(i));
    double hash = secs(Clock::now() - t0) / kHashes;
    std::printf("proof of work over the node key: one SHA-256 check %.2f us\n", hash * 1e6);
    for (unsigned bits = 16; bits <= max_bits; bits += 4) {
        const int keys = bits <= 20 ? 8 : 2;
        t0 = Clock::now();
        uint64_t tries = 0;
        for (int k = 0; k < keys; ++k) {
            Ed25519Public kk = Ed25519Key::generate().public_key();
            for (uint64_t nonce = 0;; ++nonce) {
                ++tries;
                if (pow_bits(kk, nonce) >= bits) break;
            }
        }
        double per = secs(Clock::now() - t0) / keys;
        std::printf("  %u bits: %.3f s per record (mean of %d keys, %.0f hashes each; 2^%u expected = %.2f s), "
                    "checked in %.2f us\n",
                    bits, per, keys, double(tries) / keys, bits, double(uint64_t(1) << bits) * hash, hash * 1e6);
    }
    return 0;
}
