#include "dht/directory_cache.h"

#include <charconv>

#include "crypto/hex.h"
#include "dht/bucket_keys.h"

namespace pave {

namespace {

bool writable(const CachedRecord& r) {
    return r.bucket < kRelayBuckets && !r.value.empty() && r.value.size() <= kPresenceMaxSize;
}

}  // namespace

std::string encode_directory_cache(const std::vector<CachedRecord>& records) {
    std::string out = "pave-directory 1\n";
    size_t n = 0;
    for (const auto& r : records) {
        if (!writable(r)) continue;
        if (++n > kMaxCachedRecords) break;
        out += "record " + std::to_string(r.bucket) + " " + to_hex(r.value) + "\n";
    }
    return out;
}

std::optional<std::vector<CachedRecord>> decode_directory_cache(std::string_view text, std::string* why) {
    auto refuse = [&](size_t line_no, const std::string& reason) -> std::optional<std::vector<CachedRecord>> {
        if (why) *why = line_no ? "line " + std::to_string(line_no) + ": " + reason : reason;
        return std::nullopt;
    };
    if (text.size() > kMaxDirectoryCacheBytes) return refuse(0, "file too large");
    std::vector<CachedRecord> out;
    size_t pos = 0, line_no = 0;
    bool header = false;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (line.size() > kMaxDirectoryCacheLine) return refuse(line_no, "line too long");
        if (line.empty()) continue;
        if (!header) {
            if (line != "pave-directory 1") return refuse(line_no, "not a directory cache file");
            header = true;
            continue;
        }
        // "record <bucket> <hex>", single spaces.
        constexpr std::string_view kTag = "record ";
        if (line.substr(0, kTag.size()) != kTag) return refuse(line_no, "unknown line");
        std::string_view rest = line.substr(kTag.size());
        size_t sp = rest.find(' ');
        if (sp == std::string_view::npos) return refuse(line_no, "a record line has 3 fields");
        std::string_view b = rest.substr(0, sp), hex = rest.substr(sp + 1);
        unsigned bucket = 0;
        auto r = std::from_chars(b.data(), b.data() + b.size(), bucket);
        if (b.empty() || b.size() > 3 || r.ec != std::errc() || r.ptr != b.data() + b.size() || bucket >= kRelayBuckets)
            return refuse(line_no, "bad bucket");
        if (hex.empty() || hex.size() > 2 * kPresenceMaxSize) return refuse(line_no, "bad record size");
        auto value = from_hex(hex);
        if (!value || value->empty()) return refuse(line_no, "bad record hex");
        if (out.size() >= kMaxCachedRecords) return refuse(line_no, "too many records");
        out.push_back({bucket, std::move(*value)});
    }
    if (!header) return refuse(0, "empty file");
    return out;
}

}  // namespace pave
