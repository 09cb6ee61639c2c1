#include <doctest/doctest.h>

#include <string>

#include "node/json_writer.h"

using namespace pave;

TEST_CASE("json writer: nesting and commas") {
    JsonWriter j;
    j.begin_object();
    j.field("a", uint64_t(18446744073709551615ull));
    j.field("b", true);
    j.key("c").begin_array().value(1).value(-2).null().begin_object().end_object().begin_array().end_array().end_array();
    j.key("d").begin_object().field("e", "x").end_object();
    j.field("f", int64_t(-9223372036854775807 - 1));
    j.end_object();
    CHECK(j.complete());
    CHECK(j.str() ==
          R"({"a":18446744073709551615,"b":true,"c":[1,-2,null,{},[]],"d":{"e":"x"},"f":-9223372036854775808})");
}

TEST_CASE("json writer: strings are escaped to ASCII") {
    JsonWriter j;
    j.begin_array();
    j.value(std::string("q\"b\\s/n\nr\rt\tz") + '\0' + "\x01\x1f\x7f");
    j.value(std::string("\xc3\xa9\xff"));
    j.value("");
    j.end_array();
    CHECK(j.str() == R"(["q\"b\\s/n\nr\rt\tz\u0000\u0001\u001f\u007f","\u00c3\u00a9\u00ff",""])");
    for (char c : j.str()) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("json writer: an unfinished document is not complete") {
    JsonWriter j;
    CHECK_FALSE(j.complete());
    j.begin_object().key("a");
    CHECK_FALSE(j.complete());
    j.value("b").end_object();
    CHECK(j.complete());
}
