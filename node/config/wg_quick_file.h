// The wg-quick file `pave wg up` hands to the real wg-quick, derived from the user's file
// (which is never modified), without I/O: the same [Interface] and [Peer], except
//   Endpoint  PAVE's local port (the client role relays to the real endpoint),
//   MTU       the file's, else 1420: wg-quick would otherwise derive it from the route to the
//             loopback endpoint (65456 here), and big packets would cross the relay as IP
//             fragments,
//   FwMark    the file's, else 51820 (what wg-quick picks for a full tunnel): PAVE's own
//             sockets carry the same mark, so wg-quick's policy routing
//             (`not fwmark M table M`) sends them out of the physical interface,
//   DNS       kept only if the caller says wg-quick can apply it (resolvconf present),
//   hooks     PreUp/PostUp/PreDown/PostDown kept only with --run-hooks,
//   SaveConfig left out (wg-quick would write the live state back into the derived file).
#pragma once
#include <cstdint>
#include <string>

#include "node/config/wg_config.h"
#include "relay/wire/endpoint.h"

namespace pave {

inline constexpr uint32_t kWgDefaultMtu = 1420;
inline constexpr uint32_t kWgQuickDefaultFwmark = 51820;

struct WgQuickDerivation {
    Endpoint local;           // PAVE's local port (loopback)
    std::string source_path;  // the user's file, named in a comment
    bool keep_dns = false;
    bool run_hooks = false;
};

// The mark the interface and PAVE's sockets carry: the file's FwMark, else 51820.
uint32_t wg_quick_fwmark(const WgConfig& c);
// The MTU of the interface: the file's, else 1420.
uint32_t wg_quick_mtu(const WgConfig& c);

// The derived file's text (contains the private key: write it 0600).
std::string wg_quick_file_text(const WgConfig& c, const WgQuickDerivation& d);

}  // namespace pave
