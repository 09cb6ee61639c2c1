// Deterministic randomness for the simulated network (loss, delay jitter, NAT port choice, DHT
// delays): xoshiro256** seeded through splitmix64, so one seed gives the same run on every
// platform (the standard library's distributions are not specified bit for bit).
//
// Only the simulated world draws from it. The engines keep drawing their keys and ids from the
// key-grade generator (crypto/random.h), which the simulator does not replace: a run's network
// behaviour is reproducible, the bytes of its keys are not.
#pragma once
#include <cstdint>

namespace pave::sim {

class SimRandom {
public:
    explicit SimRandom(uint64_t seed) {
        for (auto& w : s_) w = splitmix(seed);
    }

    uint64_t next() {
        uint64_t result = rotl(s_[1] * 5, 7) * 9;
        uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, bound); bound 0 gives 0. Rejection sampling: no modulo bias.
    uint64_t below(uint64_t bound) {
        if (bound == 0) return 0;
        uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
        for (;;) {
            uint64_t v = next();
            if (v < limit) return v % bound;
        }
    }
    // Uniform in [0, 1).
    double unit() { return double(next() >> 11) * 0x1.0p-53; }
    // True with probability p (p <= 0: never; p >= 1: always).
    bool chance(double p) { return p > 0 && (p >= 1 || unit() < p); }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static uint64_t splitmix(uint64_t& x) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t s_[4];
};

}  // namespace pave::sim
