// Hex encoding for ids, keys and test vectors.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "crypto/bytes.h"

namespace pave {

std::string to_hex(ByteView data);
// Parses an even-length hex string (either case). nullopt on any other input.
std::optional<Bytes> from_hex(std::string_view hex);

}  // namespace pave
