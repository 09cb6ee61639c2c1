// Feeds arbitrary bytes to the directory cache file parser. Anything it accepts must be within
// the file's bounds and encode again into text that parses to the same records; anything it
// refuses must say why. The accepted records then go through Directory::ingest, as at start.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dht/directory.h"
#include "dht/directory_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string why;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto recs = pave::decode_directory_cache(text, &why);
    if (!recs) {
        if (why.empty()) std::abort();
        return 0;
    }
    if (recs->size() > pave::kMaxCachedRecords) std::abort();
    for (const auto& r : *recs)
        if (r.bucket >= 8 || r.value.empty() || r.value.size() > pave::kPresenceMaxSize) std::abort();
    const std::string again_text = pave::encode_directory_cache(*recs);
    if (again_text.size() > pave::kMaxDirectoryCacheBytes) std::abort();
    auto again = pave::decode_directory_cache(again_text);
    if (!again || again->size() != recs->size()) std::abort();
    for (size_t i = 0; i < recs->size(); ++i)
        if ((*again)[i].bucket != (*recs)[i].bucket || (*again)[i].value != (*recs)[i].value) std::abort();
    pave::Directory d;
    for (const auto& r : *recs) d.ingest(r.value, r.bucket, 1'800'000'000);
    return 0;
}
