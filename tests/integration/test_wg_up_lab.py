"""`pave wg up` with a provider-style full-tunnel wg-quick file on the namespace lab (real
dhtnode, wireguard-go, wg-quick, nftables NAT): traffic through the VPN, MTU 1420, the VPN
sees only the relay, PAVE's own packets leave by the physical interface, `pave wg down` (and a
second `up` after `kill -9`) leaves the routing, links and processes as before, `pave status
--json`, a WireGuard restart under PAVE, and `pave wg attach`/`detach`.

The interface name is unique per run: wireguard-go's socket directory /var/run/wireguard and
PAVE's /run/pave/wg are shared between namespaces.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from lab import wg_lab as W
from lab.netlab import Lab, LabError, wait_until
from lab.pave_lab import BOOT_IP, BOOT_PAVE_PORT, CLIENT_PORT, CLIENT_PRIVATE, CLIENT_PUBLIC, RELAY_PUBLIC, VPN_IP
from lab.swarm import pave_bin

TUN_V4 = "10.99.0.2"
TUN_V6 = "fd99::2"
FWMARK = 51820


class WgUpLab:
    """The standard lab with the swarm, a VPN server (wireguard-go) and a provider-style
    full-tunnel file for the client."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.pl = W.LabPave(lab)
        self.pl.start_swarm()
        self.iface = f"pw{os.getpid() % 100000}"
        c_priv, self.client_pub = lab.wg_keypair()
        v_priv, self.vpn_pub = lab.wg_keypair()
        psk = lab.run("client", ["wg", "genpsk"]).stdout.strip()
        self.vpn_if = lab.wireguard("vpn", "wgv", v_priv, W.VPN_WG_PORT, f"{W.VPN_TUNNEL_IP}/24")
        lab.run("vpn", ["wg", "set", self.vpn_if, "peer", self.client_pub, "allowed-ips", f"{TUN_V4}/32",
                        "preshared-key", "/dev/stdin"], input=psk + "\n")
        lab.count_from("vpn", CLIENT_PUBLIC)
        # The client host has IPv6 (the file has an IPv6 address and ::/0).
        lab.run("client", ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=0",
                           "net.ipv6.conf.default.disable_ipv6=0", "net.ipv6.conf.lo.disable_ipv6=0"])
        wait_until(lambda: "local fe80::" in lab.run("client", ["ip", "-6", "route", "show", "table", "local"]).stdout,
                   10, what="the client's IPv6 link-local address")
        # No UDP at all may enter the tunnel (the test's own traffic is ping and TCP): PAVE's DHT,
        # STUN, session and relay-role sockets all carry the mark and leave by the physical link.
        lab.run("client", ["nft", "-f", "-"], input=f"""
table inet pavecheck {{
    counter into_tunnel {{ }}
    counter out_physical {{ }}
    counter out_unmarked {{ }}
    chain out {{
        type filter hook output priority 0; policy accept;
        oifname "{self.iface}" meta l4proto udp counter name "into_tunnel"
        oifname "{lab.ifname('client')}" udp sport {CLIENT_PORT} meta mark {FWMARK} counter name "out_physical"
        oifname "{lab.ifname('client')}" meta l4proto udp meta mark != {FWMARK} counter name "out_unmarked"
    }}
}}
""")
        self.conf = self.pl.tmp / f"{self.iface}.conf"
        self.conf.write_text(f"""# Provider-style file: full tunnel, DNS, several addresses, a preshared key
[Interface]
PrivateKey = {c_priv}
Address = {TUN_V4}/32
Address = {TUN_V6}/128
DNS = 10.99.0.1, fd99::1

[Peer]
PublicKey = {self.vpn_pub}
PresharedKey = {psk}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = {VPN_IP}:{W.VPN_WG_PORT}
PersistentKeepalive = 25
""")
        self.conf.chmod(0o600)
        self.conf_text = self.conf.read_text()
        self.proc = None
        # PAVE's runtime records in the lab's own directory: /run/pave is shared by every namespace.
        self.env = {"PAVE_RUNTIME_DIR": str(self.pl.tmp / "run")}
        self.runtime = self.pl.tmp / "run" / "wg" / self.iface

    def node_args(self):
        # The relay role announces itself at once here (by default after a random delay).
        return ["--bind", CLIENT_PRIVATE, "--port", CLIENT_PORT, "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}",
                "--network-id", self.pl.netid, "--relay-announce-delay", "0"]

    def up(self, conf=None):
        self.proc = self.lab.spawn("client", [pave_bin(), "--state-dir", self.pl.state("client"), "wg", "up",
                                              conf or self.conf, *self.node_args()],
                                   "pave wg up", env=self.env, stdout_path=self.pl.tmp / "wgup.log")
        return self.proc

    def log(self):
        return self.pl.log("wgup")

    def pave(self, *args, check=True, timeout=40):
        """`pave ARGS` in the client namespace, with the lab's runtime directory."""
        return self.lab.run("client", ["env", f"PAVE_RUNTIME_DIR={self.env['PAVE_RUNTIME_DIR']}", pave_bin(), *args],
                            check=check, timeout=timeout)

    def down(self, conf=None):
        return self.pave("wg", "down", conf or self.conf, check=False)

    def wait_up(self, timeout=40):
        wait_until(lambda: ("VPN answered the handshake" in self.log() and
                            W.ping(self.lab, "client", W.VPN_TUNNEL_IP, count=1, wait=1).received > 0)
                   or self.proc.poll() is not None, timeout, interval=0.2, what="a ping through pave wg up")
        assert self.proc.poll() is None, self.log()[-3000:]

    def snapshot(self):
        """Routing, links and the namespace's processes (the counters' values left out)."""
        run = lambda *a: self.lab.run("client", list(a)).stdout
        links = [l.split("@")[0] for l in run("ip", "-o", "link").splitlines()]
        return {
            "rules4": run("ip", "-4", "rule"),
            "rules6": run("ip", "-6", "rule"),
            "routes4": run("ip", "-4", "route", "show", "table", "all"),
            "routes6": run("ip", "-6", "route", "show", "table", "all"),
            "links": "\n".join(l.split(":")[1].strip() for l in links if ":" in l),
            "pids": sorted(self.lab.ns_pids("client")),
            "nft_tables": run("nft", "list", "tables"),
        }

    def status_json(self):
        out = self.pave("--state-dir", self.pl.state("client"), "status", "--json").stdout
        return json.loads(out)


def assert_as_before(w, before):
    """Within 10 s, the namespace's routing, links, nftables and processes are as ``before``."""
    try:
        wait_until(lambda: w.snapshot() == before, 10, what="the namespace as before up")
    except LabError:
        now = w.snapshot()
        diff = {k: (before[k], now[k]) for k in before if before[k] != now[k]}
        raise AssertionError(f"left behind: {diff}\n{w.log()[-2000:]}")


@pytest.fixture
def wlab():
    with Lab() as lab:
        lab.build_standard()
        w = WgUpLab(lab)
        yield w
        if w.proc and w.proc.poll() is None:
            w.down()


def test_wg_up_full_tunnel_and_down_leaves_nothing(wlab):
    w, lab = wlab, wlab.lab
    before = w.snapshot()
    t0 = time.monotonic()
    w.up()
    w.wait_up()
    t_up = time.monotonic() - t0
    log = w.log()
    assert "DNS left alone" in log, log[-2000:]
    # MTU 1420 on the interface, fwmark 51820, the peer pointed at PAVE's loopback port.
    link = lab.run("client", ["ip", "-o", "link", "show", w.iface]).stdout
    assert " mtu 1420 " in link, link
    assert lab.run("client", ["wg", "show", w.iface, "fwmark"]).stdout.strip() == "0xca6c"
    ep = lab.run("client", ["wg", "show", w.iface, "endpoints"]).stdout
    assert "127.0.0.1:" in ep, ep
    # The file was not modified; the derived one is private.
    assert w.conf.read_text() == w.conf_text
    derived = w.runtime / f"{w.iface}.conf"
    assert (derived.stat().st_mode & 0o777) == 0o600 and (w.runtime.stat().st_mode & 0o777) == 0o700
    # Traffic through the VPN: ping and a TCP transfer.
    ping = W.ping(lab, "client", W.VPN_TUNNEL_IP, count=5, interval=0.2)
    assert ping.received == 5, ping
    tr = W.tcp_transfer(lab, w.pl.tmp, 2_000_000)
    assert tr.ok, tr
    # The VPN sees the relay, never the client.
    vpn_sees = lab.wg_endpoints("vpn", w.vpn_if)[w.client_pub]
    assert vpn_sees and vpn_sees[0] == RELAY_PUBLIC, vpn_sees
    assert lab.counter_value("vpn", CLIENT_PUBLIC) == 0
    # PAVE's own packets (DHT, STUN, session) left by the physical link with the mark, none by the tunnel.
    nft = json.loads(lab.run("client", ["nft", "-j", "list", "counters", "table", "inet", "pavecheck"]).stdout)
    counters = {i["counter"]["name"]: i["counter"]["packets"] for i in nft["nftables"] if "counter" in i}
    assert counters["into_tunnel"] == 0 and counters["out_physical"] > 0 and counters["out_unmarked"] == 0, counters
    # pave status --json
    st = w.status_json()
    assert st["schema"] == "pave.overview.v1", st
    tun = [t for t in st["tunnels"] if t["interface"] == w.iface]
    assert len(tun) == 1, st
    tun = tun[0]
    assert tun["vpn"]["endpoint"] == f"{VPN_IP}:{W.VPN_WG_PORT}" and tun["vpn"]["answered"] is True, tun
    assert tun["relay"]["address"] == f"{RELAY_PUBLIC}:4500" and tun["relay"]["address_class"] == "public", tun
    assert tun["relay"]["rtt_us"] > 0 and tun["running"] is True and tun["local"].startswith("127.0.0.1:"), tun
    assert tun["wireguard"]["tx_bytes"] > 2_000 and tun["wireguard"]["rx_bytes"] > 2_000_000, tun
    assert tun["wireguard"]["latest_handshake_age_s"] is not None and tun["wireguard"]["through_pave"], tun
    # Every user gives back: the relay role runs beside the client, with its own identity, and
    # is in the directory; the client never picks it (the VPN would see the client's address).
    assert tun["relay_role"] == {"sessions": 0}, tun
    own = lab.run("client", [pave_bin(), "shell", "--socket", str(w.runtime / "control.sock"), "-c",
                             "status --json"]).stdout
    own_id = json.loads(own)["id"]
    assert own_id and tun["relay"]["id"] == w.pl.relay_id, (own_id, tun)
    wait_until(lambda: own_id in w.pl.relay_ids("boot", "boot"), 30, what="the client's relay role in the directory")
    text = w.pave("status").stdout
    print(text)
    assert f"interface: {w.iface}" in text and "answered the handshake" in text and "latest handshake:" in text, text
    print(f"\nup and answering {t_up:.1f} s after start; TCP {tr.mbit_s:.0f} Mbit/s")

    r = w.down()
    assert r.returncode == 0, r.stderr
    assert w.proc.wait(10) == 0
    assert_as_before(w, before)
    assert not w.runtime.exists()


def test_kill_9_then_second_up_and_down(wlab):
    w, lab = wlab, wlab.lab
    before = w.snapshot()
    w.up()
    w.wait_up()
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.wait()
    assert (w.runtime / "state").exists()
    # A second up cleans the leftovers (interface, rules, wireguard-go) first.
    w.up()
    w.wait_up()
    assert "did not stop cleanly" in w.log()
    assert W.ping(lab, "client", W.VPN_TUNNEL_IP, count=3, interval=0.2).received == 3
    # Ctrl-C at a terminal: SIGINT to the whole foreground process group (wg-quick's wireguard-go
    # runs in a session of its own, so it is not killed before PAVE takes the interface down).
    os.killpg(w.proc.pid, signal.SIGINT)
    assert w.proc.wait(20) == 0, w.log()[-2000:]
    assert f"ip link delete dev {w.iface}" in w.log().split("did not stop cleanly")[-1], w.log()[-2000:]
    assert_as_before(w, before)
    # down after a kill -9, with nothing running: cleans up from the record.
    w.up()
    w.wait_up()
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.wait()
    r = w.down()
    assert r.returncode == 0 and "cleaned up after pid" in r.stdout, r.stdout + r.stderr
    assert_as_before(w, before)
    # PAVE and wireguard-go both killed: the interface is gone, wg-quick's rules and nftables
    # table are not, and wg-quick down cannot run without the interface: down removes them.
    w.up()
    w.wait_up()
    wg_go = [pid for pid in lab.ns_pids("client")
             if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"wireguard-go", w.iface.encode()]]
    assert len(wg_go) == 1, wg_go
    os.kill(w.proc.pid, signal.SIGKILL)
    os.kill(wg_go[0], signal.SIGKILL)
    w.proc.wait()
    wait_until(lambda: w.iface not in w.snapshot()["links"], 10, what="the interface to go")
    assert "lookup 51820" in w.snapshot()["rules4"]
    r = w.down()
    assert r.returncode == 0 and "cleaned up after pid" in r.stdout, r.stdout + r.stderr
    assert_as_before(w, before)
    assert not Path(f"/var/run/wireguard/{w.iface}.sock").exists()


def test_wireguard_restarted_and_wrong_vpn_port(wlab):
    """`wg-quick down; wg-quick up` of the interface under a running PAVE, then `wg set IFACE
    listen-port N`: traffic resumes within 2 s each time. Then a file whose VPN port is wrong:
    the warning comes within 10 s."""
    w, lab = wlab, wlab.lab
    w.up()
    w.wait_up()
    derived = str(w.runtime / f"{w.iface}.conf")
    time.sleep(1)  # WireGuard ignores an initiation within 20 ms of the previous one
    lab.run("client", ["wg-quick", "down", derived])
    lab.run("client", ["env", "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go", "wg-quick", "up", derived])
    t0 = time.monotonic()
    wait_until(lambda: W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=0.5).received > 0, 10, interval=0.05,
               what="a ping after WireGuard's restart")
    gap = time.monotonic() - t0
    assert "WireGuard source changed to 127.0.0.1:" in w.log(), w.log()[-2000:]
    print(f"\nfirst ping answered {gap:.2f} s after wg-quick up")
    assert gap <= 2, w.log()[-2000:]
    # `wg set IFACE listen-port N`: the same WireGuard and keypair on a new port, no handshake.
    lab.run("client", ["wg", "set", w.iface, "listen-port", "43999"])
    t0 = time.monotonic()
    wait_until(lambda: W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=0.5).received > 0, 10, interval=0.05,
               what="a ping after the listen-port change")
    gap = time.monotonic() - t0
    assert "WireGuard source changed to 127.0.0.1:43999" in w.log(), w.log()[-2000:]
    print(f"first ping answered {gap:.2f} s after wg set listen-port")
    assert gap <= 2, w.log()[-2000:]
    assert w.down().returncode == 0

    wrong = w.pl.tmp / f"{w.iface}w.conf"
    wrong.write_text(w.conf_text.replace(f"{VPN_IP}:{W.VPN_WG_PORT}", f"{VPN_IP}:51829"))
    wrong.chmod(0o600)
    w.up(conf=wrong)
    wait_until(lambda: w.log().count("listening for WireGuard") == 4, 20, what="the second up")
    t0 = time.monotonic()
    W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=1)
    wait_until(lambda: "no answer from the VPN to WireGuard's handshake" in w.log() or w.proc.poll() is not None,
               15, interval=0.1, what="the no-answer warning")
    took = time.monotonic() - t0
    print(f"warning {took:.1f} s after the first ping")
    assert took <= 10 and "wrong VPN endpoint or port" in w.log(), w.log()[-2000:]
    r = w.down(wrong)
    assert r.returncode == 0, r.stderr


def test_wg_attach_and_detach(wlab):
    """An interface the user runs already: attach repoints its peer through PAVE, detach (after
    kill -9) restores the endpoint."""
    w, lab = wlab, wlab.lab
    c_priv, _ = lab.wg_keypair()
    lab.run("vpn", ["wg", "set", w.vpn_if, "peer", w.client_pub, "remove"])
    c_pub = lab.run("client", ["wg", "pubkey"], input=c_priv + "\n").stdout.strip()
    lab.run("vpn", ["wg", "set", w.vpn_if, "peer", c_pub, "allowed-ips", f"{TUN_V4}/32"])
    iface = lab.wireguard("client", "wga", c_priv, 51820, f"{TUN_V4}/24")
    lab.wg_peer("client", iface, w.vpn_pub, f"{VPN_IP}:{W.VPN_WG_PORT}", f"{W.VPN_TUNNEL_IP}/32")
    # Several peers and no --peer: refused, naming them.
    other = lab.wg_keypair()[1]
    lab.wg_peer("client", iface, other, "192.0.2.9:51820", "10.98.0.0/24")
    r = w.pave("wg", "attach", iface, check=False)
    assert r.returncode == 2 and "name the VPN's with --peer KEY" in r.stderr and other in r.stderr, r.stderr
    lab.run("client", ["wg", "set", iface, "peer", other, "remove"])
    proc = lab.spawn("client", [pave_bin(), "--state-dir", w.pl.state("client"), "wg", "attach", iface,
                                *w.node_args()], "pave wg attach", env=w.env, stdout_path=w.pl.tmp / "attach.log")
    # WireGuard has not sent anything yet: the VPN never saw this host's address (a VPN that has
    # can write to it directly, and WireGuard would follow it away from PAVE: status warns).
    wait_until(lambda: "now reaches its endpoint through PAVE" in w.pl.log("attach"), 20, what="attach")
    try:
        wait_until(lambda: W.ping(lab, "client", W.VPN_TUNNEL_IP, count=1, wait=1).received > 0
                   and "VPN answered the handshake" in w.pl.log("attach"), 40, interval=0.2,
                   what="a ping through pave wg attach")
    except LabError as e:
        sess = w.pave("shell", "--socket", str(w.runtime.parent / iface / "control.sock"), "-c", "sessions",
                      check=False).stdout
        raise AssertionError(f"{e}\n{w.pl.log('attach')[-1500:]}\n{sess}\n{w.pl.log('relay')[-1500:]}\n"
                             f"{lab.run('client', ['wg', 'show', iface]).stdout}")
    ep = lab.wg_endpoints("client", iface)[w.vpn_pub]
    assert ep[0] == "127.0.0.1", ep
    assert lab.wg_endpoints("vpn", w.vpn_if)[c_pub][0] == RELAY_PUBLIC
    st = w.status_json()
    tun = [t for t in st["tunnels"] if t["interface"] == iface]
    assert len(tun) == 1 and tun[0]["mode"] == "attach" and tun[0]["wireguard"]["through_pave"] is True, st
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    r = w.pave("wg", "detach", iface, check=False)
    assert r.returncode == 0, r.stderr
    assert lab.wg_endpoints("client", iface)[w.vpn_pub] == (VPN_IP, W.VPN_WG_PORT)
    assert not (w.runtime.parent / iface).exists()
