// Tells the client role at once when an address of this host is added or removed, so that a
// client whose own address changed (a new address in its LAN, a move to another network) finds
// working paths to its relays before WireGuard's next packet, idle or not
// (ClientEngine::on_local_addresses_changed).
//
// How: a NETLINK_ROUTE socket subscribed to the kernel's address groups (RTMGRP_IPV4_IFADDR,
// RTMGRP_IPV6_IFADDR), read through a uv_poll_t on the loop; messages count only from the
// kernel (sender port id 0) and only RTM_NEWADDR / RTM_DELADDR; a burst (the old address
// removed, a new one added) is told once, kCoalesce after its first message.
// Why this and not the other signals: a socket bound to the wildcard address (the default)
// sees no failed send when the host's address changes (the kernel picks the new source), and a
// silent path is noticed only once data goes unanswered (relay/engine/path_watch.h); an idle
// tunnel would find out at WireGuard's next packet and lose it. The watch costs nothing until
// the kernel reports a change, and an unrelated change (a container's bridge, wg-quick's own
// address) costs one PING per relay session: the engine's probe finds the paths working.
// A session socket bound to one address (--bind) that disappears cannot be followed: its sends
// fail until that address comes back.
#pragma once
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "node/uv_handle.h"

namespace pave {

class AddressWatch {
public:
    static constexpr std::chrono::milliseconds kCoalesce{20};
    using Changed = std::function<void()>;

    AddressWatch(uv_loop_t* loop, Changed changed);
    ~AddressWatch();
    AddressWatch(const AddressWatch&) = delete;
    AddressWatch& operator=(const AddressWatch&) = delete;

    // "" when watching, else why not (the client then learns of a change from its paths).
    std::string start();
    uint64_t changes() const { return changes_; }  // times `changed` was called

private:
    void on_readable();

    uv_loop_t* loop_;
    Changed changed_;
    int fd_ = -1;
    UvHandle<uv_poll_t> poll_;
    UvHandle<uv_timer_t> timer_;
    uint64_t changes_ = 0;
};

}  // namespace pave
