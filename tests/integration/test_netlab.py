"""Integration tests of the namespace lab itself: topology, NAT behaviour,
WireGuard, counters, capture and teardown."""

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.netlab import WG_SOCKET_DIR, Lab, ipv4_packets, lab_namespaces, pid_alive, wait_until

PY = sys.executable
TESTS_DIR = Path(__file__).resolve().parent.parent

# A small UDP tool run inside the namespaces.
#   echo PORT                     answer each datagram with its source "ip:port"
#   ask PORT IP DPORT SECONDS     send until answered; print the answer
#   punch PORT IP DPORT SECONDS   send every 100 ms for SECONDS; print JSON
#                                 {"first": seconds to first datagram or null,
#                                  "sources": ["ip:port", ...]}
UDP_TOOL = textwrap.dedent(r'''
    import json, socket, sys, time
    mode, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    if mode == "echo":
        while True:
            data, src = s.recvfrom(2048)
            s.sendto(f"{src[0]}:{src[1]}".encode(), src)
    dst, seconds = (sys.argv[3], int(sys.argv[4])), float(sys.argv[5])
    start = time.monotonic()
    end, next_send = start + seconds, start
    first, sources = None, set()
    while (now := time.monotonic()) < end:
        if now >= next_send:
            s.sendto(b"probe", dst)
            next_send += 0.1
        s.settimeout(max(0.001, min(next_send, end) - now))
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            continue
        if mode == "ask":
            print(data.decode())
            sys.exit(0)
        if first is None:
            first = time.monotonic() - start
        sources.add(f"{src[0]}:{src[1]}")
    if mode == "punch":
        print(json.dumps({"first": first, "sources": sorted(sources)}))
    else:
        sys.exit("no answer")
''')


def udp(lab, ns, *args, **kw):
    return lab.run(ns, [PY, "-c", UDP_TOOL, *args], **kw)


def spawn_udp(lab, ns, out, *args):
    return lab.spawn(ns, [PY, "-c", UDP_TOOL, *args], label=f"udp {args[0]}", stdout_path=out)


def punch_both(lab, tmp_path, seconds, port=40000):
    """Client and relay punch towards each other's public address at the same time."""
    a, b = tmp_path / f"client-{seconds}.json", tmp_path / f"relay-{seconds}.json"
    pa = spawn_udp(lab, "client", a, "punch", port, "203.0.113.20", port, seconds)
    pb = spawn_udp(lab, "relay", b, "punch", port, "203.0.113.10", port, seconds)
    assert pa.wait(seconds + 10) == 0 and pb.wait(seconds + 10) == 0
    return json.loads(a.read_text()), json.loads(b.read_text())


def setup_wireguard(lab, client_endpoint):
    """Client wg 10.99.0.2 <-> vpn wg 10.99.0.1; returns (client pubkey, vpn pubkey)."""
    c_priv, c_pub = lab.wg_keypair()
    v_priv, v_pub = lab.wg_keypair()
    lab.wireguard("vpn", "wgv", v_priv, 51820, "10.99.0.1/24")
    lab.wireguard("client", "wgc", c_priv, 51820, "10.99.0.2/24")
    lab.wg_peer("vpn", "wgv", c_pub, None, "10.99.0.2/32")
    lab.wg_peer("client", "wgc", v_pub, client_endpoint, "10.99.0.1/32")
    return c_pub, v_pub


def tunnel_ping(lab):
    res = wait_until(lambda: lab.run("client", ["ping", "-c", "1", "-W", "1", "10.99.0.1"],
                                     check=False).returncode == 0 or None,
                     timeout=10, what="a ping through the tunnel")
    assert res


def test_standard_lab_udp_through_nat_seen_from_public_address(lab, tmp_path):
    assert set(lab_namespaces(lab.prefix)) == {
        lab.ns(n) for n in ("inet", "nata", "client", "natb", "relay", "vpn", "boot")}
    pcap = tmp_path / "inet.pcap"
    tcpdump = lab.capture(pcap)
    spawn_udp(lab, "vpn", None, "echo", 7000)
    answer = udp(lab, "client", "ask", 41000, "203.0.113.30", 7000, 3).stdout.strip()
    lab.stop(tcpdump)

    ip, port = answer.split(":")
    assert ip == "203.0.113.10"
    assert port == "41000"  # plain masquerade preserves the port
    packets = list(ipv4_packets(pcap))
    assert any(p.src == "203.0.113.10" and p.dst == "203.0.113.30" and p.dport == 7000
               for p in packets)
    assert not any(p.src.startswith("10.") or p.dst.startswith("10.") for p in packets)


def test_unsolicited_inbound_is_dropped_at_nat(lab, tmp_path):
    # The relay opens a mapping towards boot; boot's echoes come back through it,
    # while the vpn's packets to the same public port reach NAT B and die there,
    # leaving no conntrack entry behind (one would disturb later punches).
    lab.count_from("natb", "203.0.113.30")
    spawn_udp(lab, "boot", None, "echo", 7000)
    out = tmp_path / "relay.json"
    relay = spawn_udp(lab, "relay", out, "punch", 40000, "203.0.113.40", 7000, 2)
    udp(lab, "vpn", "punch", 40001, "203.0.113.20", 40000, 2)
    assert relay.wait(10) == 0
    sources = {s.split(":")[0] for s in json.loads(out.read_text())["sources"]}
    assert sources == {"203.0.113.40"}
    assert lab.counter_value("natb", "203.0.113.30") >= 10
    entries = lab.run("natb", ["conntrack", "-L", "-s", "203.0.113.30"]).stdout
    assert entries.strip() == ""


def test_hole_punching_cone_works_symmetric_fails(lab, tmp_path):
    a, b = punch_both(lab, tmp_path, seconds=2)
    assert a["first"] is not None and a["first"] < 2
    assert b["first"] is not None and b["first"] < 2
    assert a["sources"] == ["203.0.113.20:40000"]
    assert b["sources"] == ["203.0.113.10:40000"]

    lab.set_nat("natb", "symmetric")  # flushes conntrack: the old mapping must not help
    a, b = punch_both(lab, tmp_path, seconds=5)
    assert a == {"first": None, "sources": []}
    assert b == {"first": None, "sources": []}


def test_wireguard_direct_shows_client_nat_address(lab):
    lab.count_from("vpn", "203.0.113.10")
    c_pub, _ = setup_wireguard(lab, "203.0.113.30:51820")
    tunnel_ping(lab)
    assert lab.wg_endpoints("vpn", "wgv")[c_pub][0] == "203.0.113.10"
    assert lab.counter_value("vpn", "203.0.113.10") > 0


def test_wireguard_through_kernel_relay_hides_client(lab):
    lab.count_from("vpn", "203.0.113.10")
    lab.count_from("vpn", "203.0.113.20")
    lab.forward_port("natb", 51820, "203.0.113.30")
    c_pub, _ = setup_wireguard(lab, "203.0.113.20:51820")
    tunnel_ping(lab)
    assert lab.wg_endpoints("vpn", "wgv")[c_pub][0] == "203.0.113.20"
    assert lab.counter_value("vpn", "203.0.113.20") > 0
    assert lab.counter_value("vpn", "203.0.113.10") == 0

    lab.clear_forwards("natb")
    assert lab.run("client", ["ping", "-c", "2", "-W", "1", "10.99.0.1"],
                   check=False).returncode != 0


def _all_pids(lab):
    pids = set(lab.processes())
    for name in ("inet", "nata", "client", "natb", "relay", "vpn", "boot"):
        pids.update(lab.ns_pids(name))
    return pids


def assert_gone(prefix, pids, sockets):
    assert lab_namespaces(prefix) == []
    wait_until(lambda: not any(pid_alive(p) for p in pids), 3, what="lab processes to exit")
    assert not any(s.exists() for s in sockets)


def test_teardown_on_exception_kills_everything():
    with pytest.raises(RuntimeError, match="boom"):
        with Lab() as lab:
            lab.build_standard()
            lab.spawn("client", ["sleep", "300"], label="sleep")
            # The shell's background child is not tracked: only `ip netns pids` finds it.
            lab.spawn("relay", ["sh", "-c", "sleep 300 & wait"], label="sh")
            lab.spawn("relay", ["socat", "UDP4-LISTEN:51820,fork,reuseaddr",
                                "UDP4:203.0.113.30:51820"], label="socat")
            priv, _ = lab.wg_keypair()
            iface = lab.wireguard("vpn", "wgt", priv, 51820, "10.99.0.1/24")
            udp(lab, "relay", "punch", 40000, "127.0.0.1", 51820, 0.3)  # socat forks a child
            wait_until(lambda: len(lab.ns_pids("relay")) >= 4, 3, what="socat child")
            pids = _all_pids(lab)
            assert len(pids) >= 6
            sockets = [WG_SOCKET_DIR / f"{iface}.sock"]
            assert sockets[0].exists()
            raise RuntimeError("boom")
    lab.close()  # idempotent
    assert_gone(lab.prefix, pids, sockets)


def test_teardown_on_sigterm_of_the_process():
    script = textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from lab.netlab import Lab
        lab = Lab().build_standard()
        lab.spawn("vpn", ["sleep", "300"], label="sleep")
        priv, _ = lab.wg_keypair()
        iface = lab.wireguard("client", "wgs", priv, 51820, "10.99.0.2/24")
        pids = list(lab.processes())
        for name in ("client", "vpn"):
            pids += lab.ns_pids(name)
        print(json.dumps({{"prefix": lab.prefix, "pids": pids, "iface": iface}}), flush=True)
        time.sleep(300)
    """)
    proc = subprocess.Popen([PY, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert lab_namespaces(info["prefix"])
        assert all(pid_alive(p) for p in info["pids"])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_gone(info["prefix"], info["pids"], [WG_SOCKET_DIR / f"{info['iface']}.sock"])
