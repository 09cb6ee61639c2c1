// Byte containers shared by every layer.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace pave {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
template <size_t N>
using ByteArray = std::array<uint8_t, N>;

// Overwrites memory in a way the optimiser may not remove (for key material).
void secure_zero(void* p, size_t n);

template <size_t N>
struct SecretArray {
    ByteArray<N> b{};
    SecretArray() = default;
    SecretArray(const SecretArray&) = default;
    SecretArray& operator=(const SecretArray&) = default;
    ~SecretArray() { secure_zero(b.data(), N); }
    uint8_t* data() { return b.data(); }
    const uint8_t* data() const { return b.data(); }
    static constexpr size_t size() { return N; }
};

// Constant-time comparison of equal-length buffers.
bool equal_ct(ByteView a, ByteView b);

}  // namespace pave
