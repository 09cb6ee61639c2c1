// Feeds arbitrary bytes to the guard state file parser. Anything it accepts must be within the
// file's bounds, encode again into text that parses to the same state, and restore into a
// GuardSet; anything it refuses must say why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dht/guard_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string why;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto st = pave::decode_guard_state(text, &why);
    if (!st) {
        if (why.empty()) std::abort();
        return 0;
    }
    if (st->guards.size() > pave::kMaxGuardLines || st->first_seen.size() > pave::kMaxSeenLines) std::abort();
    for (const auto& g : st->guards)
        if (g.failures > 1000 || (!g.prefix.empty() && g.prefix.size() != 3 && g.prefix.size() != 6)) std::abort();
    auto again = pave::decode_guard_state(pave::encode_guard_state(*st));
    if (!again || again->guards.size() != st->guards.size() || again->first_seen != st->first_seen) std::abort();
    for (size_t i = 0; i < st->guards.size(); ++i)
        if (again->guards[i].node_pub != st->guards[i].node_pub || again->guards[i].added_s != st->guards[i].added_s ||
            again->guards[i].prefix != st->guards[i].prefix)
            std::abort();
    pave::GuardSet gs;
    gs.restore(st->guards);
    if (gs.guards().size() > gs.params().size) std::abort();
    return 0;
}
