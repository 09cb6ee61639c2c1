// Fuzzes the relay's intake and slots: arbitrary offers (VPN endpoint, candidates, timestamp,
// session id) and arbitrary sequences of open / heard / validated / remove / prune on a few
// sessions, then the promises after every step: the pending budget, the capacity and the
// per-address cap are never exceeded; an accepted offer's candidates all pass the candidate
// policy and are distinct; established sessions are never evicted; any broken promise aborts.
#include <algorithm>
#include <cstdio>
#include <set>

#include "relay/wire/endpoint_policy.h"
#include "relay/session_admission.h"

using namespace pave;

namespace {

void check_at(bool ok, int line) {
    if (ok) return;
    std::fprintf(stderr, "broken promise at fuzz_session_admission.cpp:%d\n", line);
    __builtin_trap();
}
#define check(ok) check_at((ok), __LINE__)

class Reader {
public:
    Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    bool empty() const { return i_ >= n_; }
    uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
    uint16_t u16() { return uint16_t(u8() | u8() << 8); }
    Endpoint endpoint() {
        // Mostly from a small pool, so that addresses repeat; sometimes raw bytes.
        static const char* kPool[] = {"198.51.100.7:4600", "198.51.100.7:4601", "192.0.2.9:4600", "127.0.0.1:4600",
                                      "10.2.0.2:4500", "203.0.113.20:22", "[2001:db8:20::9]:1", "[2001:db8:7::1]:1",
                                      "[2001:db8:7::2]:2", "[::ffff:198.51.100.7]:9", "224.0.0.1:9", "0.0.0.0:1"};
        uint8_t k = u8();
        if (k < 200) return *Endpoint::parse(kPool[k % (sizeof kPool / sizeof *kPool)]);
        uint8_t ip[16];
        size_t n = (k & 1) ? 16 : 4;
        for (size_t i = 0; i < n; ++i) ip[i] = u8();
        auto e = Endpoint::from_ip_bytes(ByteView(ip, n), u16());
        return e ? *e : Endpoint{};
    }

private:
    const uint8_t* d_;
    size_t n_;
    size_t i_ = 0;
};

const std::vector<Endpoint>& own() {
    static const std::vector<Endpoint> v = {*Endpoint::parse("203.0.113.20:4500"), *Endpoint::parse("10.2.0.2:4500"),
                                            *Endpoint::parse("[2001:db8:20::5]:4500")};
    return v;
}
const std::vector<Endpoint>& bound() {
    static const std::vector<Endpoint> v = {*Endpoint::parse("10.2.0.2:4500")};
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader r(data, size);
    AdmissionLimits l;
    l.capacity = r.u8() % 6;
    l.pending = r.u8() % 6;
    l.per_client = r.u8() % 4;
    uint8_t flags = r.u8();
    l.allow_private_endpoints = flags & 1;
    l.allow_private_candidates = flags & 2;
    l.seen_max = 1 + r.u8() % 16;
    SessionAdmission a(l);
    uint64_t now_ms = 1'700'000'000'000;
    std::set<SessionAdmission::ConnId> established;  // as the model sees it
    std::map<SessionAdmission::ConnId, Endpoint> peers;

    while (!r.empty()) {
        SessionAdmission::ConnId id{};
        id[0] = r.u8() % 8;
        switch (r.u8() % 7) {
            case 0: {
                Offer o;
                o.session_id[0] = r.u8();
                o.vpn = r.endpoint();
                size_t n = r.u8() % 10;
                for (size_t i = 0; i < n; ++i) o.candidates.push_back(r.endpoint());
                o.timestamp_ms = now_ms + int64_t(int8_t(r.u8())) * 1000;
                auto d = a.check_offer(o, now_ms, own(), bound());
                if (d.verdict == SessionAdmission::Verdict::accepted) {
                    check(!d.candidates.empty());
                    check(check_endpoint(o.vpn, own(), l.allow_private_endpoints) == EndpointVerdict::ok);
                    for (size_t i = 0; i < d.candidates.size(); ++i) {
                        check(check_candidate(d.candidates[i], own(), bound(), l.allow_private_candidates) ==
                              EndpointVerdict::ok);
                        check(std::count(d.candidates.begin(), d.candidates.end(), d.candidates[i]) == 1);
                    }
                    check(a.established() < l.capacity);
                } else if (d.verdict == SessionAdmission::Verdict::refused) {
                    check(d.refuse_code >= kRefuseEndpoint && d.refuse_code <= kRefuseAddressLimit);
                    check(d.candidates.empty());
                }
                break;
            }
            case 1: {
                auto s = a.open(id);
                if (s.evicted) {
                    check(!established.count(*s.evicted));  // never an established session
                    check(*s.evicted != id);
                }
                break;
            }
            case 2: a.heard(id); break;
            case 3: {
                Endpoint peer = r.endpoint();
                bool was_pending = a.is_pending(id);
                auto v = a.validated(id, peer);
                if (v.ok && !established.count(id)) {
                    check(was_pending);  // only a pending session validates
                    established.insert(id);
                    peers[id] = peer;
                }
                if (!v.ok) check(!a.is_established(id) && !a.is_pending(id));
                break;
            }
            case 4:
                a.remove(id);
                established.erase(id);
                peers.erase(id);
                break;
            case 5:
                now_ms += uint64_t(r.u8()) * 1000;
                a.prune(now_ms);
                break;
            case 6: break;
        }
        check(a.pending() <= l.pending);
        check(a.established() <= l.capacity);
        check(a.established() == established.size());
        for (const auto& [cid, p] : peers) {
            check(a.is_established(cid));
            check(a.established_from(p) <= l.per_client);
        }
    }
    return 0;
}
