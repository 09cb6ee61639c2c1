// The directory cache file (dht/directory_cache.h): round trip, bounds, refusals.
#include <doctest/doctest.h>

#include <string>

#include "dht/directory_cache.h"

using namespace pave;

TEST_CASE("directory cache: records round-trip; unwritable ones are skipped; at most kMaxCachedRecords") {
    std::vector<CachedRecord> in;
    for (unsigned i = 0; i < kMaxCachedRecords + 5; ++i) in.push_back({i % 8, Bytes(10 + i, uint8_t(i))});
    in.insert(in.begin(), CachedRecord{8, Bytes(5, 1)});                   // bucket out of range
    in.insert(in.begin(), CachedRecord{0, Bytes{}});                       // empty
    in.insert(in.begin(), CachedRecord{0, Bytes(kPresenceMaxSize + 1, 2)});  // too large
    const std::string text = encode_directory_cache(in);
    auto out = decode_directory_cache(text);
    REQUIRE(out);
    REQUIRE(out->size() == kMaxCachedRecords);
    for (unsigned i = 0; i < kMaxCachedRecords; ++i) {
        CHECK((*out)[i].bucket == i % 8);
        CHECK((*out)[i].value == Bytes(10 + i, uint8_t(i)));
    }
    CHECK(text.size() <= kMaxDirectoryCacheBytes);
    auto empty = decode_directory_cache(encode_directory_cache({}));
    REQUIRE(empty);
    CHECK(empty->empty());
}

TEST_CASE("directory cache: anything malformed refuses the whole file, with the line and reason") {
    auto why = [](const std::string& text) {
        std::string w;
        CHECK(!decode_directory_cache(text, &w));
        return w;
    };
    CHECK(why("") == "empty file");
    CHECK(why("pave-guards 1\n") == "line 1: not a directory cache file");
    CHECK(why("pave-directory 2\n") == "line 1: not a directory cache file");
    CHECK(why("pave-directory 1\nrecord 8 00\n") == "line 2: bad bucket");
    CHECK(why("pave-directory 1\nrecord -1 00\n") == "line 2: bad bucket");
    CHECK(why("pave-directory 1\nrecord 1 0g\n") == "line 2: bad record hex");
    CHECK(why("pave-directory 1\nrecord 1 0\n") == "line 2: bad record hex");
    CHECK(why("pave-directory 1\nrecord 1\n") == "line 2: a record line has 3 fields");
    CHECK(why("pave-directory 1\nrecord 1 \n") == "line 2: bad record size");
    CHECK(why("pave-directory 1\nseen 1 00\n") == "line 2: unknown line");
    CHECK(why("pave-directory 1\nrecord 1 " + std::string(2 * kPresenceMaxSize + 2, 'a') + "\n") == "line 2: bad record size");
    CHECK(why("pave-directory 1\nrecord 1 " + std::string(kMaxDirectoryCacheLine, 'a') + "\n") == "line 2: line too long");
    std::string many = "pave-directory 1\n";
    for (size_t i = 0; i <= kMaxCachedRecords; ++i) many += "record 0 00\n";
    CHECK(why(many) == "line " + std::to_string(kMaxCachedRecords + 2) + ": too many records");
    CHECK(why(std::string(kMaxDirectoryCacheBytes + 1, '\n')) == "file too large");
}
