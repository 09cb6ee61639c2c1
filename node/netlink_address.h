// The one thing PAVE reads from the kernel's rtnetlink reports (node/address_watch.h): how many
// address messages (RTM_NEWADDR, RTM_DELADDR) one datagram holds. No libuv, so the fuzzer links
// it alone (tests/fuzz/fuzz_netlink_address.cpp).
#pragma once
#include <cstddef>

#include "crypto/bytes.h"

namespace pave {

// RTM_NEWADDR and RTM_DELADDR messages in one datagram read from a NETLINK_ROUTE socket; the
// walk stops at the first malformed header and never reads past the datagram.
size_t count_address_messages(ByteView datagram);

}  // namespace pave
