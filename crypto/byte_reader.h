// Bounds-checked reading of byte formats. Every read checks the remaining length first and
// never reads outside the view; a failed read reads nothing, returns false and leaves the
// reader failed, so that a chain of reads can be checked once at its end (ok()).
// Integers are big-endian (network order) unless the name says le.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypto/bytes.h"

namespace pave {

class ByteReader {
public:
    explicit ByteReader(ByteView b) : b_(b) {}

    bool ok() const { return !failed_; }
    size_t offset() const { return pos_; }
    size_t remaining() const { return b_.size() - pos_; }
    bool at_end() const { return pos_ == b_.size(); }
    // The bytes read so far and the bytes not yet read.
    ByteView consumed() const { return b_.first(pos_); }
    ByteView rest() const { return b_.subspan(pos_); }

    // n more bytes, or false (and nothing read) if fewer remain or the reader has failed.
    bool has(size_t n) const { return !failed_ && n <= remaining(); }

    bool skip(size_t n) {
        if (!claim(n)) return false;
        pos_ += n;
        return true;
    }
    bool bytes(uint8_t* out, size_t n) {
        if (!claim(n)) return false;
        if (n) std::memcpy(out, b_.data() + pos_, n);
        pos_ += n;
        return true;
    }
    template <size_t N>
    bool array(ByteArray<N>& out) {
        return bytes(out.data(), N);
    }
    // A view of the next n bytes (valid as long as the underlying buffer).
    bool view(size_t n, ByteView& out) {
        if (!claim(n)) return false;
        out = b_.subspan(pos_, n);
        pos_ += n;
        return true;
    }

    bool u8(uint8_t& v) { return load<1, false>(v); }
    bool u16be(uint16_t& v) { return load<2, false>(v); }
    bool u32be(uint32_t& v) { return load<4, false>(v); }
    bool u64be(uint64_t& v) { return load<8, false>(v); }
    bool u16le(uint16_t& v) { return load<2, true>(v); }
    bool u32le(uint32_t& v) { return load<4, true>(v); }
    bool u64le(uint64_t& v) { return load<8, true>(v); }

    // Reads `expected` and fails unless it is exactly that value (a magic number, a type byte).
    bool expect_u8(uint8_t expected) {
        uint8_t v = 0;
        return u8(v) && check(v == expected);
    }
    bool expect_u32be(uint32_t expected) {
        uint32_t v = 0;
        return u32be(v) && check(v == expected);
    }
    // Fails unless every remaining byte is zero (canonical padding); reads them all. The
    // comparison takes the same time whatever the bytes.
    bool zeros_to_end() {
        uint8_t acc = 0;
        for (size_t i = pos_; i < b_.size(); ++i) acc |= b_[i];
        if (!check(!failed_ && acc == 0)) return false;
        pos_ = b_.size();
        return true;
    }
    // Fails the reader unless cond holds: for range checks inside a chain of reads.
    bool check(bool cond) {
        if (!cond) failed_ = true;
        return !failed_;
    }

private:
    bool claim(size_t n) {
        if (failed_ || n > remaining()) {
            failed_ = true;
            return false;
        }
        return true;
    }
    template <size_t N, bool LE, typename T>
    bool load(T& v) {
        static_assert(sizeof(T) >= N);
        if (!claim(N)) return false;
        const uint8_t* p = b_.data() + pos_;
        T x = 0;
        for (size_t i = 0; i < N; ++i) x = T(x << 8 | p[LE ? N - 1 - i : i]);
        v = x;
        pos_ += N;
        return true;
    }

    ByteView b_;
    size_t pos_ = 0;
    bool failed_ = false;
};

}  // namespace pave
