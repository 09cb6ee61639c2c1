// Fuzzes what PAVE reads from and adds to OpenDHT datagrams: inspect_dht_message never throws
// or reads outside its input, and mark_as_client keeps a message what it was (same kind, same
// transaction id) with one more pair, "s": true.
#include <cstdlib>
#include <vector>

#include "dht/dht_wire.h"

using namespace pave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ByteView in(data, size);
    auto info = inspect_dht_message(in);
    std::vector<uint8_t> marked;
    if (!mark_as_client(in, marked)) return 0;
    if (marked.size() < size + 3 || marked.size() > size + 5) std::abort();
    // A message PAVE could read stays readable, with the same kind and transaction id; the
    // appended pair can only turn an unreadable prefix into nothing readable or readable.
    if (info) {
        auto after = inspect_dht_message(marked);
        if (!after || after->kind != info->kind) std::abort();
        // "t" appears before the appended "s" pair; the same id is read unless the input had a
        // duplicate key that the appended pair cannot change.
        if (after->tid != info->tid) std::abort();
    }
    return 0;
}
