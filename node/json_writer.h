// A small streaming JSON writer for the control socket's machine-readable output: objects,
// arrays, strings, unsigned and signed integers, booleans and null. Commas and nesting are
// tracked for the caller; strings are escaped (quote, backslash, every byte below 0x20 and
// 0x7f as \u00XX or its short form, bytes from 0x80 as \u00XX, so the output is always
// ASCII and valid JSON whatever the input bytes).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pave {

class JsonWriter {
public:
    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }

    // The key of the next value inside an object.
    JsonWriter& key(std::string_view k) {
        separate();
        quoted(k);
        out_ += ':';
        after_key_ = true;
        return *this;
    }

    JsonWriter& value(std::string_view s) {
        separate();
        quoted(s);
        return *this;
    }
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b) { return raw(b ? "true" : "false"); }
    JsonWriter& value(uint64_t v) { return raw(std::to_string(v)); }
    JsonWriter& value(int64_t v) { return raw(std::to_string(v)); }
    JsonWriter& value(uint32_t v) { return value(uint64_t(v)); }
    JsonWriter& value(int v) { return value(int64_t(v)); }
    JsonWriter& null() { return raw("null"); }

    template <typename T>
    JsonWriter& field(std::string_view k, const T& v) {
        return key(k).value(v);
    }

    // The document; complete once every object and array is closed.
    const std::string& str() const { return out_; }
    bool complete() const { return depth_.empty() && !out_.empty(); }

private:
    JsonWriter& open(char c) {
        separate();
        out_ += c;
        depth_.push_back(true);
        return *this;
    }
    JsonWriter& close(char c) {
        if (!depth_.empty()) depth_.pop_back();
        out_ += c;
        return *this;
    }
    JsonWriter& raw(std::string_view s) {
        separate();
        out_ += s;
        return *this;
    }
    // A comma before every element but the first of its container (a value after its key
    // needs none).
    void separate() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (depth_.empty()) return;
        if (!depth_.back()) out_ += ',';
        depth_.back() = false;
    }
    void quoted(std::string_view s) {
        out_ += '"';
        for (unsigned char c : s) {
            switch (c) {
                case '"': out_ += "\\\""; break;
                case '\\': out_ += "\\\\"; break;
                case '\n': out_ += "\\n"; break;
                case '\r': out_ += "\\r"; break;
                case '\t': out_ += "\\t"; break;
                default:
                    if (c < 0x20 || c >= 0x7f) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
                        out_ += buf;
                    } else {
                        out_ += char(c);
                    }
            }
        }
        out_ += '"';
    }

    std::string out_;
    std::vector<bool> depth_;  // per open container: no element written yet
    bool after_key_ = false;
};

}  // namespace pave
