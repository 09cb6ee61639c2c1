// Feeds arbitrary datagrams to the count of rtnetlink address messages (node/netlink_address.h):
// it must never read past the datagram (ASan) and never count more messages than fit.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "node/netlink_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const size_t n = pave::count_address_messages(pave::ByteView(data, size));
    if (n > size / sizeof(nlmsghdr)) std::abort();
    return 0;
}
