"""The client entry with real wireguard-go on the namespace lab (the standard lab of
test_relay_lab.py): a WireGuard that restarts on a new port is followed, a VPN that does not
answer is reported within 10 s, and WireGuard's first initiation, sent before the path is up,
is not lost.
"""

import time

from lab import wg_lab as W
from lab.netlab import Lab, LabError, wait_until
from lab.pave_lab import RELAY_PUBLIC, VPN_IP

LISTEN = ["--listen", W.PAVE_LISTEN]
ANSWERED = "pave connect: VPN answered the handshake"
NO_ANSWER = "pave connect: no answer from the VPN to WireGuard's handshake"


def connect(lab: Lab, vpn: str = f"{VPN_IP}:51820") -> W.LabPave:
    pl = W.LabPave(lab)
    pl.start_swarm()
    pl.start_client(vpn=vpn, extra=LISTEN)
    pl.wait_connected(30)
    return pl


def within(predicate, timeout: float) -> bool:
    """Whether ``predicate`` becomes true within ``timeout`` seconds."""
    try:
        return bool(wait_until(predicate, timeout, interval=0.05))
    except LabError:
        return False


def first_answered_ping(lab: Lab, timeout: float) -> float:
    """Seconds until a ping through the tunnel is answered (one ping at a time)."""
    t0 = time.monotonic()
    wait_until(lambda: W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=1).received > 0, timeout,
               interval=0.05, what="a ping through the tunnel")
    return time.monotonic() - t0


def test_wireguard_restarted_on_a_new_port_is_followed(lab):
    """The user's WireGuard comes back on a new listen port and starts over with a handshake
    initiation, as after `wg-quick down; wg-quick up`: traffic resumes within 2 s."""
    tun = W.WgTunnel(lab)
    pl = connect(lab)
    tun.point_client_at(W.PAVE_LISTEN)
    tun.wait_tunnel(20)
    assert within(lambda: ANSWERED in pl.log("client"), 5), pl.log("client")[-2000:]
    # A restart takes longer than this; WireGuard ignores a peer's initiation that comes within
    # 20 ms of the previous one (its flood mitigation), so the lab must not be faster.
    time.sleep(1)

    lab.run("client", ["wg", "set", tun.client_if, "listen-port", "51830"])
    tun.point_client_at(W.PAVE_LISTEN, fresh=True)  # a new peer state: WireGuard handshakes first
    gap = first_answered_ping(lab, 10)
    log = pl.log("client")
    print(f"\nfirst ping answered {gap:.2f} s after WireGuard moved to port 51830")
    assert "pave connect: WireGuard source changed to 127.0.0.1:51830; following it" in log, log[-2000:]
    assert gap <= 2, log[-2000:]
    assert log.count(ANSWERED) == 2, log[-2000:]  # once for each WireGuard
    assert NO_ANSWER not in log


def test_wrong_vpn_port_is_reported_within_10_s(lab):
    """The VPN's address with a port nothing listens on: connected, but the user is told that
    the VPN does not answer, with the likely cause (the VPN host reports the port closed, and the
    relay closes the session)."""
    tun = W.WgTunnel(lab)
    pl = connect(lab, vpn=f"{VPN_IP}:51829")
    t0 = time.monotonic()
    tun.point_client_at(W.PAVE_LISTEN)
    W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=1)  # makes WireGuard handshake
    ok = within(lambda: NO_ANSWER in pl.log("client"), 12)
    took = time.monotonic() - t0
    log = pl.log("client")
    print(f"\nwarning {took:.1f} s after WireGuard was pointed at PAVE")
    assert ok, log[-2000:]
    assert took <= 10, log[-2000:]
    assert log.count(NO_ANSWER) == 1, log[-2000:]
    assert "wrong VPN endpoint or port" in log
    assert ANSWERED not in log


def test_first_initiation_before_the_path_is_not_lost(lab):
    """WireGuard is up and sends its first initiation before `pave connect` has a path: when
    the path connects within 5 s of it, the held initiation goes out and the handshake completes
    at once, not after WireGuard's 5 s retry."""
    tun = W.WgTunnel(lab)
    pl = W.LabPave(lab)
    pl.start_swarm()
    tun.point_client_at(W.PAVE_LISTEN)
    # The path would be up within milliseconds: the client's packets to the relay are dropped
    # for the first second, so WireGuard's initiation surely arrives before any path.
    lab.run("client", ["nft", "-f", "-"], input=(
        "add table ip hold_path\n"
        "add chain ip hold_path out { type filter hook output priority 0; policy accept; }\n"
        f"add rule ip hold_path out ip daddr {RELAY_PUBLIC} drop\n"))
    pl.start_client(extra=LISTEN)
    wait_until(lambda: "listening for WireGuard" in pl.log("client"), 10, what="the client's listener")
    W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=0.2)  # one initiation, now
    t_init = time.monotonic()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t_init)))
    assert "path validated" not in pl.log("client")
    lab.run("client", ["nft", "delete", "table", "ip", "hold_path"])
    pl.wait_connected(30)
    t_conn = time.monotonic()
    within(lambda: tun.latest_handshake("client") > 0, 10)
    t_hs = time.monotonic()
    log = pl.log("client")
    print(f"\nconnected {t_conn - t_init:.2f} s after WireGuard's first initiation; "
          f"handshake {t_hs - t_conn:.2f} s after connected")
    assert tun.latest_handshake("client") > 0, log[-2000:]
    # Connected within the 5 s an initiation is held: the held one went out, no 5 s retry.
    assert t_conn - t_init < 4.5, log[-2000:]
    assert "sent WireGuard's handshake initiation held while no path was up" in log, log[-2000:]
    assert t_hs - t_conn <= 1.5, log[-2000:]
