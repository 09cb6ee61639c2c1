// Cryptographically secure randomness (GnuTLS's generator).
#pragma once
#include <cstdint>

#include "crypto/bytes.h"

namespace pave {

// Fills buf from the key-grade generator; aborts the process if the generator fails
// (continuing without randomness would be worse than stopping).
void random_bytes(std::span<uint8_t> buf);
uint64_t random_u64();
// Uniform in [0, bound) without modulo bias; bound > 0.
uint64_t random_below(uint64_t bound);

// For the swarm simulator and tests only: while an instance lives, random_bytes on this thread
// draws from a ChaCha20 keystream (nettle) keyed by `seed` instead of the system generator, so a
// seeded simulation replays exactly, session ids and keys included. Instances nest; the node
// never creates one.
class DeterministicRandomForTests {
public:
    explicit DeterministicRandomForTests(uint64_t seed);
    ~DeterministicRandomForTests();
    DeterministicRandomForTests(const DeterministicRandomForTests&) = delete;
    DeterministicRandomForTests& operator=(const DeterministicRandomForTests&) = delete;

    void fill(std::span<uint8_t> buf);

private:
    uint8_t key_[32];
    uint64_t block_ = 0;
    DeterministicRandomForTests* previous_;
};

}  // namespace pave
