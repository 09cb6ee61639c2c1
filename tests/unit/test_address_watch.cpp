#include <doctest/doctest.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "node/netlink_address.h"

using namespace pave;

namespace {

// Appends one netlink message of `type` with `payload` bytes after its header (aligned).
void add_message(Bytes& d, uint16_t type, size_t payload, uint32_t len_override = 0) {
    nlmsghdr h{};
    h.nlmsg_len = len_override ? len_override : uint32_t(NLMSG_LENGTH(payload));
    h.nlmsg_type = type;
    const size_t at = d.size();
    d.resize(at + NLMSG_SPACE(payload));
    std::memcpy(d.data() + at, &h, sizeof h);
}

}  // namespace

TEST_CASE("address watch: counts the kernel's address messages in a datagram") {
    Bytes d;
    add_message(d, RTM_NEWADDR, sizeof(ifaddrmsg) + 8);
    add_message(d, RTM_NEWROUTE, sizeof(rtmsg) + 3);  // a route: not counted
    add_message(d, RTM_DELADDR, sizeof(ifaddrmsg) + 5);
    CHECK(count_address_messages(d) == 2);
    CHECK(count_address_messages(ByteView()) == 0);
    // A datagram cut inside a header or a message: what precedes counts, nothing past the end is read.
    for (size_t cut = 0; cut < d.size(); ++cut) {
        Bytes part(d.begin(), d.begin() + long(cut));
        CHECK(count_address_messages(part) <= 2);
    }
    Bytes first(d.begin(), d.begin() + long(NLMSG_SPACE(sizeof(ifaddrmsg) + 8)));
    CHECK(count_address_messages(first) == 1);
}

TEST_CASE("address watch: a malformed length ends the walk") {
    Bytes d;
    add_message(d, RTM_NEWADDR, 16, 4);  // shorter than a header
    add_message(d, RTM_NEWADDR, 16);
    CHECK(count_address_messages(d) == 0);
    Bytes e;
    add_message(e, RTM_NEWADDR, 16);
    add_message(e, RTM_DELADDR, 16, 0xffffffffu);  // longer than the datagram
    CHECK(count_address_messages(e) == 1);
}
