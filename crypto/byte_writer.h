// Bounds-checked writing of byte formats, into a fixed buffer or appended to a Bytes. A
// write that would pass the capacity writes nothing, returns false and leaves the writer
// failed, so that a chain of writes can be checked once at its end (ok()).
// Integers are big-endian (network order) unless the name says le.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>

#include "crypto/bytes.h"

namespace pave {

class ByteWriter {
public:
    // Writes into out, at most out.size() bytes.
    explicit ByteWriter(std::span<uint8_t> out) : fixed_(out), cap_(out.size()) {}
    // Appends to out, at most max_size bytes in all (counting what out held before).
    explicit ByteWriter(Bytes& out, size_t max_size = std::numeric_limits<size_t>::max())
        : grow_(&out), start_(out.size()), cap_(max_size >= out.size() ? max_size - out.size() : 0) {}

    bool ok() const { return !failed_; }
    // Bytes written by this writer.
    size_t size() const { return pos_; }
    size_t room() const { return cap_ - pos_; }
    ByteView written() const { return ByteView(base(), pos_); }

    bool put(ByteView b) {
        uint8_t* p = claim(b.size());
        if (!p) return false;
        if (!b.empty()) std::memcpy(p, b.data(), b.size());
        return true;
    }
    template <size_t N>
    bool put(const ByteArray<N>& a) {
        return put(ByteView(a));
    }
    bool zeros(size_t n) {
        // No buffer is larger than PTRDIFF_MAX; saying so first also lets the compiler see that
        // the memset below never gets such a bound (GCC's -Wstringop-overflow cannot see claim's).
        if (n > size_t(std::numeric_limits<ptrdiff_t>::max())) {
            failed_ = true;
            return false;
        }
        uint8_t* p = claim(n);
        if (!p) return false;
        if (n) std::memset(p, 0, n);
        return true;
    }
    // Zero bytes up to the next multiple of `align` of the bytes written.
    bool pad_to(size_t align) { return align == 0 || zeros((align - pos_ % align) % align); }

    bool u8(uint8_t v) { return store<1, false>(v); }
    bool u16be(uint16_t v) { return store<2, false>(v); }
    bool u32be(uint32_t v) { return store<4, false>(v); }
    bool u64be(uint64_t v) { return store<8, false>(v); }
    bool u16le(uint16_t v) { return store<2, true>(v); }
    bool u32le(uint32_t v) { return store<4, true>(v); }
    bool u64le(uint64_t v) { return store<8, true>(v); }

    // Overwrites bytes already written (a length field known only at the end); fails the
    // writer if [at, at + size) is not inside what was written.
    bool patch_u16be(size_t at, uint16_t v) { return patch<2>(at, v); }
    bool patch_u32be(size_t at, uint32_t v) { return patch<4>(at, v); }

private:
    uint8_t* base() const { return grow_ ? grow_->data() + start_ : fixed_.data(); }
    uint8_t* claim(size_t n) {
        if (failed_ || n > cap_ - pos_) {
            failed_ = true;
            return nullptr;
        }
        if (grow_) grow_->resize(start_ + pos_ + n);
        uint8_t* p = base() + pos_;
        pos_ += n;
        return p;
    }
    template <size_t N>
    static void encode(uint8_t* p, uint64_t v, bool le) {
        for (size_t i = 0; i < N; ++i) p[le ? i : N - 1 - i] = uint8_t(v >> (8 * i));
    }
    template <size_t N, bool LE>
    bool store(uint64_t v) {
        uint8_t* p = claim(N);
        if (!p) return false;
        encode<N>(p, v, LE);
        return true;
    }
    template <size_t N>
    bool patch(size_t at, uint64_t v) {
        if (failed_ || at > pos_ || N > pos_ - at) {
            failed_ = true;
            return false;
        }
        encode<N>(base() + at, v, false);
        return true;
    }

    std::span<uint8_t> fixed_;
    Bytes* grow_ = nullptr;
    size_t start_ = 0;
    size_t cap_ = 0;
    size_t pos_ = 0;
    bool failed_ = false;
};

}  // namespace pave
