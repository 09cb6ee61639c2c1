// Feeds arbitrary text to the parser of `pave wg`'s runtime record. Anything it accepts must
// write back to a text that parses to the same record; anything it refuses must say why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/config/wg_state_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string err;
    auto r = pave::parse_wg_record(text, err);
    if (!r) {
        if (err.empty()) std::abort();
        return 0;
    }
    if (r->pid <= 0 || r->iface.empty() || r->iface.size() > 15) std::abort();
    std::string out = pave::wg_record_text(*r, err);
    if (!err.empty()) return 0;  // a value with a carriage return: refused for writing
    auto back = pave::parse_wg_record(out, err);
    if (!back || back->mode != r->mode || back->pid != r->pid || back->iface != r->iface || back->config != r->config ||
        back->derived != r->derived || back->local != r->local || back->peer != r->peer ||
        back->original_endpoint != r->original_endpoint || back->interface_up != r->interface_up ||
        back->fwmark != r->fwmark || back->policy_routing != r->policy_routing)
        std::abort();
    return 0;
}
