// Small files of state the node keeps in its state dir between runs (the client's guards):
// read with a size bound, replaced atomically (a temporary file in the same directory, written,
// fsync'ed, renamed over the old one, then the directory fsync'ed), mode 0600.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace pave {

// The file's contents; std::nullopt if it does not exist. `error` is set (and nullopt returned)
// when it cannot be read or is larger than max_bytes.
std::optional<std::string> read_state_file(const std::string& path, size_t max_bytes, std::string& error);
// "" or a one-line error.
std::string write_state_file(const std::string& path, const std::string& text);

inline std::string guard_state_path(const std::string& dir) { return dir + "/guards"; }
inline std::string directory_cache_path(const std::string& dir) { return dir + "/directory"; }

}  // namespace pave
