#include <doctest/doctest.h>

#include <string>

#include "node/config/wg_state_record.h"

using namespace pave;

TEST_CASE("wg_state_record: written and read back") {
    WgRecord r;
    r.mode = "up";
    r.pid = 4242;
    r.iface = "wg0";
    r.config = "/etc/wireguard/wg0.conf";
    r.derived = "/run/pave/wg/wg0/wg0.conf";
    r.local = "127.0.0.1:40001";
    r.vpn = "198.51.100.7:51820";
    r.interface_up = true;
    r.fwmark = 51820;
    r.policy_routing = true;
    std::string err;
    std::string text = wg_record_text(r, err);
    REQUIRE(err.empty());
    auto back = parse_wg_record(text, err);
    INFO(err);
    REQUIRE(back);
    CHECK(back->mode == "up");
    CHECK(back->pid == 4242);
    CHECK(back->iface == "wg0");
    CHECK(back->config == r.config);
    CHECK(back->derived == r.derived);
    CHECK(back->local == r.local);
    CHECK(back->vpn == r.vpn);
    CHECK(back->interface_up);
    CHECK(back->fwmark == 51820);
    CHECK(back->policy_routing);
    CHECK(back->peer.empty());
}

TEST_CASE("wg_state_record: a value with a line break is refused, not written") {
    WgRecord r;
    r.mode = "up";
    r.pid = 1;
    r.iface = "wg0";
    r.config = "/tmp/x\npid 99";
    std::string err;
    CHECK(wg_record_text(r, err).empty());
    CHECK_FALSE(err.empty());
}

TEST_CASE("wg_state_record: incomplete or damaged records are refused with a reason") {
    std::string err;
    CHECK_FALSE(parse_wg_record("", err));
    CHECK_FALSE(err.empty());
    CHECK_FALSE(parse_wg_record("mode up\niface wg0\n", err));  // no pid
    CHECK_FALSE(parse_wg_record("mode up\npid 12\n", err));     // no interface
    CHECK_FALSE(parse_wg_record("mode sideways\npid 12\niface wg0\n", err));
    CHECK_FALSE(parse_wg_record("mode up\npid -3\niface wg0\n", err));
    CHECK_FALSE(parse_wg_record("mode up\npid 99999999999\niface wg0\n", err));
    CHECK_FALSE(parse_wg_record("mode up\npid 12\niface ../../etc\n", err));
    CHECK_FALSE(parse_wg_record("mode up\npid 12\niface a-name-far-too-long\n", err));
    CHECK_FALSE(parse_wg_record("mode up\npid 12\niface wg0\nfwmark 0xzz\n", err));
    CHECK_FALSE(parse_wg_record(std::string(kWgRecordMaxBytes + 1, 'a'), err));
    // Unknown keys (a newer PAVE's) are ignored.
    auto ok = parse_wg_record("mode attach\npid 12\niface wg0\nsomething new\n", err);
    REQUIRE(ok);
    CHECK(ok->mode == "attach");
}
