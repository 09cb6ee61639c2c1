// Drives the amplification guard with an arbitrary sequence of receives, sends, checks and
// transaction ids from a few addresses, and checks its promise after every step: toward an
// address that has not validated, the bytes sent never exceed 3x the bytes received plus the
// first-contact credit; memory stays within the configured table and hold limits.
#include <cstdlib>
#include <map>

#include "relay/wire/address_check.h"
#include "relay/amplification_guard.h"

using namespace pave;
using G = AmplificationGuard;

namespace {

struct Reader {
    const uint8_t* p;
    size_t n;
    uint8_t byte() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
    bool done() const { return n == 0; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    G::Limits l;
    l.max_entries = 6;
    l.first_contact_bytes = 300;
    l.held_bytes_per_address = 2000;
    l.held_bytes_total = 5000;
    ByteArray<32> secret{};
    G g(l, secret);
    CookieJar jar(secret);  // the same secret: the fuzzer may echo valid cookies
    Endpoint addrs[8];
    for (int i = 0; i < 8; ++i) addrs[i] = *Endpoint::from_ip_bytes(Bytes{203, 0, 113, uint8_t(i)}, uint16_t(1000 + i % 3));
    struct Tally {
        uint64_t in = 0, out = 0;
        bool ever_valid = false;
    };
    std::map<int, Tally> t;
    auto now = G::Clock::time_point{} + std::chrono::hours(1);
    Reader r{data, size};
    while (!r.done()) {
        const uint8_t op = r.byte();
        const int a = r.byte() % 8;
        const Endpoint& ep = addrs[a];
        const size_t n = size_t(r.byte()) * 8 + 1;
        now += std::chrono::milliseconds(r.byte() * 20);
        Tally& ta = t[a];
        switch (op % 6) {
            case 0:
                ta.in += n;
                if (auto c = g.on_received(ep, n, now)) ta.out += c->size();
                break;
            case 1:
            case 2: {
                auto plan = g.plan_send(ep, Bytes(n, 0x80), op % 6 == 1 ? G::Traffic::reply : G::Traffic::request, now);
                if (plan.challenge) ta.out += plan.challenge->size();
                if (plan.action == G::Action::send) ta.out += n;
                break;
            }
            case 3: {
                AddressCheck m;
                m.type = AddressCheckType(1 + r.byte() % 3);
                if (m.type != AddressCheckType::confirm) m.cookie.fill(r.byte());
                if (m.type != AddressCheckType::challenge)
                    m.echo = (r.byte() & 1) ? jar.make(addrs[r.byte() % 8], uint64_t(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()))
                                            : ByteArray<kCookieSize>{};
                ta.in += kAddressCheckSize;
                g.on_received(ep, kAddressCheckSize, now, false);
                auto plan = g.on_check(ep, m, now);
                if (plan.answer) ta.out += plan.answer->size();
                if (plan.flush && plan.flush->to == ep) ta.ever_valid = true;
                break;
            }
            case 4:
                g.on_request_tid(ep, r.byte(), now);
                break;
            case 5:
                g.on_reply_tid(ep, r.byte(), now);
                g.expire(now);
                break;
        }
        if (g.validated(ep, now)) ta.ever_valid = true;
        // Entries can be evicted and start over, so the bound is checked per address over the
        // whole run: 3x everything received, plus one first-contact credit per eviction.
        if (!ta.ever_valid && ta.out > 3 * ta.in + l.first_contact_bytes * (1 + g.count(G::Counter::evicted)))
            std::abort();
        if (g.entries() > l.max_entries || g.held_bytes() > l.held_bytes_total) std::abort();
    }
    return 0;
}
