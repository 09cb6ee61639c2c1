"""WireGuard through a PAVE relay on the namespace lab, with real wireguard-go at both ends.

Each test builds the standard lab (client behind NAT A 203.0.113.10, relay behind NAT B
203.0.113.20, VPN 203.0.113.30, DHT boot host 203.0.113.40), starts dhtnode, the PAVE boot
node and the relay, then `pave connect` in the client namespace, and tears everything down by
PID. The user's WireGuard (client namespace, MTU 1420) has Endpoint = 127.0.0.1:51821, the
--listen address of `pave connect`; the VPN's WireGuard listens on 51820 with tunnel
10.99.0.1/24 <-> 10.99.0.2/24.
"""

import time

import pytest

from lab import wg_lab as W
from lab.netlab import Lab, wait_until
from lab.pave_lab import (BOOT_IP, BOOT_PAVE_PORT, CLIENT_PORT, CLIENT_PRIVATE, CLIENT_PUBLIC, DHTNODE_PORT,
                          RELAY_PORT, RELAY_PUBLIC, VPN_IP)

TRANSFER_BYTES = 50 << 20
CLIENT_IPS = [CLIENT_PRIVATE, CLIENT_PUBLIC]
LISTEN = ["--listen", W.PAVE_LISTEN]


def relay_session(pl: W.LabPave) -> dict:
    sessions = W.parse_sessions(pl.relay_sessions())
    return sessions[0] if sessions else {}


def diagnostics(pl: W.LabPave) -> str:
    return ("\n--- client log ---\n" + pl.log("client")[-2500:] + "\n--- relay log ---\n" + pl.log("relay")[-1500:]
            + "\n--- relay sessions ---\n" + pl.relay_sessions())


def connect(lab: Lab, vpn: str = f"{VPN_IP}:51820", extra=()) -> W.LabPave:
    pl = W.LabPave(lab)
    pl.start_swarm()
    pl.start_client(vpn=vpn, extra=[*LISTEN, *extra])
    pl.wait_connected(30)
    return pl


def test_wireguard_through_relay_ping_and_50mb(lab):
    """Ping and a 50 MB TCP transfer (SHA-256 checked at both ends) through the tunnel; the VPN
    knows the client only as NAT B's public address and never gets a packet from NAT A."""
    lab.count_from("vpn", CLIENT_PUBLIC)       # installed before anything runs
    tun = W.WgTunnel(lab)
    pl = connect(lab)
    tun.point_client_at(W.PAVE_LISTEN)
    tun.wait_tunnel(20)

    p = W.ping(lab, "client", W.VPN_TUNNEL_IP, count=10, interval=0.1)
    assert p.received == p.sent == 10, p.output
    ep = tun.vpn_endpoint()
    assert ep is not None and ep[0] == RELAY_PUBLIC, tun.vpn_endpoints_text()

    # Full-size packets: 1392 bytes of ICMP payload fill the 1420-byte tunnel MTU exactly.
    big = lab.run("client", ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1392",
                             W.VPN_TUNNEL_IP], check=False)
    assert big.returncode == 0, "full-MTU packets do not cross the relay:\n" + big.stdout + diagnostics(pl)

    try:
        r = W.tcp_transfer(lab, pl.tmp, TRANSFER_BYTES, timeout=60)
    except Exception as e:  # a stalled transfer: show what the relay counted
        pytest.fail(f"50 MB transfer through the tunnel failed: {str(e)[-300:]}{diagnostics(pl)}")
    print(f"\n50 MB through the relay: {r.seconds:.2f} s, {r.mbit_s:.0f} Mbit/s")
    assert r.received == TRANSFER_BYTES and r.ok, r

    ep = tun.vpn_endpoint()
    assert ep is not None and ep[0] == RELAY_PUBLIC and ep[0] != CLIENT_PUBLIC, tun.vpn_endpoints_text()
    assert lab.counter_value("vpn", CLIENT_PUBLIC) == 0

    s = relay_session(pl)
    assert s.get("state") == "established" and s.get("unlocked") == "1", pl.relay_sessions()
    assert s["peer"] == f"{CLIENT_PUBLIC}:{CLIENT_PORT}" and s["vpn"] == f"{VPN_IP}:51820"
    assert s["wg_to_client_bytes"] >= TRANSFER_BYTES and s["drop_not_wireguard"] == "0", pl.relay_sessions()


def test_no_client_address_reaches_dht_nodes(lab, tmp_path):
    """Leak check over a whole run: a capture on the lab's bridge, then every packet exchanged
    with DHT nodes, and every value the boot node and the relay store, is searched for the
    client's addresses (10.1.0.2, 203.0.113.10) and address:port (…:4600) in every encoding of
    wg_lab.address_patterns.

    Exclusion: packets whose IP destination is the client's own public address 203.0.113.10
    are not searched. A DHT node telling the client its own address (OpenDHT's "sa" field, a
    STUN answer from the PAVE boot node) discloses nothing to anyone else.

    The client runs with --no-relay: a relay role beside it publishes its own presence record,
    which names the host's public address by design (README: "Every user gives back").
    """
    pcap = tmp_path / "bridge.pcap"
    cap = lab.capture(pcap)
    lab.count_from("vpn", CLIENT_PUBLIC)
    tun = W.WgTunnel(lab)
    pl = connect(lab, extra=["--no-relay"])
    tun.point_client_at(W.PAVE_LISTEN)
    tun.wait_tunnel(20)
    assert W.ping(lab, "client", W.VPN_TUNNEL_IP, count=5, interval=0.1).received == 5
    time.sleep(2)  # a little more DHT maintenance traffic

    patterns = W.address_patterns(CLIENT_IPS, CLIENT_PORT)
    exports = {}
    for host in ("boot", "relay"):
        keys = W.parse_dht_export(pl.shell(host, host, "dht export"))
        assert keys, f"{host} stores nothing"
        assert not [k.key for k in keys if k.decode_error], [k.decode_error for k in keys]
        exports[host] = keys
    lab.stop(cap)

    failures = []
    sealed = 0
    for host, keys in exports.items():
        sizes = W.export_value_sizes(keys)
        print(f"\n{host}: {len(keys)} key(s); stored value sizes (bytes: count) {sizes}")
        # The rendezvous value (the inbox offer) is the fixed-size sealed blob. A PAVE node keeps
        # it only for the offer's short lifetime; Debian's dhtnode keeps it for its default one.
        sealed += sizes.get(512, 0)
        for key, names in W.scan_exports(keys, patterns):
            failures.append(f"{host} stores the client's address at {key}: {names}")

    assert sealed >= 1, "no 512-byte rendezvous value stored anywhere: the search covered no offer"
    rep = W.scan_dht_traffic(pcap, patterns, {BOOT_IP: (DHTNODE_PORT, BOOT_PAVE_PORT)}, {CLIENT_PUBLIC})
    print(f"DHT packets on the bridge: {rep.dht_packets} ({rep.excluded_to_client} to the client itself, "
          f"not searched); {rep.scanned_bytes} payload bytes searched; {len(rep.leaks)} with a client address")
    assert rep.dht_packets > 20
    for idx, src, dst, names in rep.leaks[:10]:
        failures.append(f"pcap packet #{idx} {src} -> {dst} carries {names}")
    assert not failures, "client address seen by DHT nodes:\n" + "\n".join(failures)


def test_non_wireguard_service_gets_only_rate_limited_initiations(lab, tmp_path):
    """A client asks the relay for a UDP echo service instead of a WireGuard server. The echo
    server sees nothing but handshake initiations, at most 5 + 1 per second of the session,
    and nothing comes back to the client's WireGuard."""
    lab.count_from("vpn", CLIENT_PUBLIC)
    echo = W.UdpEcho(lab, "vpn", VPN_IP, 5353, tmp_path)
    pl = connect(lab, vpn=f"{VPN_IP}:5353")
    t_connected = time.monotonic()

    # 1. A flood of initiation-shaped datagrams from 127.0.0.1:51820, the port the user's
    #    WireGuard uses below (PAVE attaches to the first local source it hears).
    flood = W.flood_initiations(lab, "client", W.CLIENT_WG_PORT, W.PAVE_LISTEN, rate=50, seconds=5)
    assert flood["sent"] >= 200
    assert flood["received"] == 0, flood
    # 2. The real WireGuard tries to handshake (initiation now and a retry after 5 s).
    tun = W.WgTunnel(lab)
    tun.point_client_at(W.PAVE_LISTEN)
    p = W.ping(lab, "client", W.VPN_TUNNEL_IP, count=7, interval=1, wait=1)
    assert p.received == 0
    time.sleep(1)
    elapsed = time.monotonic() - t_connected

    rx, _ = tun.transfer_counts("client")
    assert rx == 0 and tun.latest_handshake("client") == 0, "the client's WireGuard received something"
    got = echo.datagrams()
    print(f"\necho server got {len(got)} datagram(s) in {elapsed:.1f} s of session "
          f"({flood['sent']} flooded + WireGuard's own initiations); bound {5 + int(elapsed) + 1}")
    assert got, "not even the first initiation reached the endpoint"
    assert all(d["len"] == 148 and d["first"] == "01000000" for d in got), got
    assert all(d["src"].startswith(RELAY_PUBLIC + ":") for d in got), got
    assert len(got) <= 5 + int(elapsed) + 1, f"{len(got)} initiations in {elapsed:.1f} s"
    s = relay_session(pl)
    assert s.get("wg_to_client_pkts") == 0 and s.get("unlocked") == "0", pl.relay_sessions()
    assert int(s["drop_rate_session"]) + int(s["drop_rate_destination"]) >= flood["sent"] - len(got) - 5
    assert lab.counter_value("vpn", CLIENT_PUBLIC) == 0


def test_private_and_loopback_endpoints_are_refused(lab):
    """The relay refuses VPN endpoints on private or loopback addresses; the client says which
    step failed and exits non-zero."""
    pl = W.LabPave(lab)
    pl.start_swarm()
    for vpn in ("10.2.0.1:51820", "127.0.0.1:51820"):
        log_before = len(pl.log("client"))
        proc = pl.start_client(vpn=vpn, extra=LISTEN)
        try:
            rc = proc.wait(40)
        except Exception:
            pytest.fail(f"client for {vpn} still running{diagnostics(pl)}")
        lab.stop(proc)
        out = pl.log("client")[log_before:]
        assert rc != 0, out
        assert "failed at step 'rendezvous': relay refused: VPN endpoint refused:" in out, out
        assert "path validated" not in out
    assert "# 0 relay session(s)" in pl.relay_sessions(), pl.relay_sessions()


def relay_stat(pl, name):
    """One counter of the relay's `stats`."""
    for line in pl.shell("relay", "relay", "stats").splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    raise AssertionError(f"no {name} in the relay's stats")


def test_nothing_forwarded_after_session_ends(lab):
    """Once the client stops, the relay forwards nothing more to the VPN, even when datagrams
    shaped like WireGuard keep arriving from the client's old address and port."""
    lab.count_from("vpn", RELAY_PUBLIC)
    lab.count_from("vpn", CLIENT_PUBLIC)
    tun = W.WgTunnel(lab)
    pl = connect(lab)
    tun.point_client_at(W.PAVE_LISTEN)
    tun.wait_tunnel(20)
    assert W.ping(lab, "client", W.VPN_TUNNEL_IP, count=3, interval=0.1).received == 3
    assert lab.counter_value("vpn", RELAY_PUBLIC) > 0

    lab.stop(pl.client)  # SIGTERM: a clean stop, the client can say goodbye
    failures = []
    try:
        wait_until(lambda: relay_session(pl).get("state") in (None, "closed", "failed"), 5,
                   what="the relay to close the session")
    except Exception:
        failures.append("the relay still holds the session 5 s after the client stopped:\n"
                        + pl.relay_sessions())
    before = lab.counter_value("vpn", RELAY_PUBLIC)
    dropped_before = relay_stat(pl, "dropped_wireguard_no_session")
    # The user's WireGuard keeps sending (into a closed port), and someone reuses the client's
    # address and port, whose NAT mappings are still open, to send WireGuard-shaped datagrams.
    W.ping(lab, "client", W.VPN_TUNNEL_IP, count=3, interval=0.2, wait=1)
    sent = W.send_wireguard_shaped(lab, "client", CLIENT_PRIVATE, CLIENT_PORT, f"{RELAY_PUBLIC}:{RELAY_PORT}", 3)
    assert sent > 50
    time.sleep(1)
    forwarded = lab.counter_value("vpn", RELAY_PUBLIC) - before
    if forwarded:
        failures.append(f"{forwarded} of {sent} WireGuard-shaped datagrams from the client's old address "
                        f"reached the VPN after the client stopped:\n" + pl.relay_sessions())
    assert lab.counter_value("vpn", CLIENT_PUBLIC) == 0
    # ... and the relay counted them as dropped: no session for that address any more
    dropped = relay_stat(pl, "dropped_wireguard_no_session") - dropped_before
    if dropped < sent:
        failures.append(f"the relay counted {dropped} dropped of {sent} WireGuard-shaped datagrams")
    assert not failures, "\n".join(failures)
