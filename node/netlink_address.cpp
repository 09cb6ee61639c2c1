#include "node/netlink_address.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

namespace pave {

size_t count_address_messages(ByteView datagram) {
    size_t n = 0, off = 0;
    while (datagram.size() - off >= sizeof(nlmsghdr)) {
        nlmsghdr h;
        std::memcpy(&h, datagram.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > datagram.size() - off) break;
        if (h.nlmsg_type == RTM_NEWADDR || h.nlmsg_type == RTM_DELADDR) ++n;
        const size_t step = NLMSG_ALIGN(size_t(h.nlmsg_len));
        if (step > datagram.size() - off) break;
        off += step;
    }
    return n;
}

}  // namespace pave
