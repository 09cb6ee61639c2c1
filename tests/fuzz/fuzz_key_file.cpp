// Feeds arbitrary bytes to the key file parser; anything it accepts must re-serialize to
// exactly the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "crypto/key_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto res = pave::parse_key_file(pave::ByteView(data, size));
    if (res.key) {
        auto again = pave::serialize_key_file(*res.key);
        if (size != again.size() || std::memcmp(again.data(), data, size) != 0) std::abort();
    } else if (res.error.empty()) {
        std::abort();
    }
    return 0;
}
