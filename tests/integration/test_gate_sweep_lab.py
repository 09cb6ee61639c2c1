"""The port sweep attack on the relay gate, run for real on the namespace lab.

The attacker is the client: `pave connect --vpn 203.0.113.30:5353` names a silent UDP sink as
its "VPN". Through PAVE's --listen port it sends a handshake initiation each second with a
sender index it chose; from the boot host (203.0.113.40) a raw socket forges handshake
responses "from" 203.0.113.30:5353 to every port 1024-65535 of the relay's public address
(NAT B, 203.0.113.20), each answering that index and carrying the port it is sent to as its
sender index. NAT B passes only the one that matches the relay's mapping of its VPN socket;
when it reaches the attacker through the relay, the attacker knows the port and stops the
sweep. Then it sends 1,440-byte transport messages for the sink, first alone, then while the
boot host forges a keepalive "from" the sink every 5 s to the found port.

What the relay gate promises (relay/gate.h): a sweep of up to 64,512 forged responses; a
silent sink gets at most 64 KiB + 8 KiB/s from the session; with forged return traffic the
relay cannot tell the sink from a WireGuard server, and delivers no more than the attacker
sends. Figures are printed.
"""

import json
import textwrap
import time

import pytest

from lab import gate_sweep as spoof
from lab import wg_lab as W
from lab.netlab import Lab, wait_until
from lab.pave_lab import BOOT_IP, RELAY_PUBLIC, VPN_IP

SINK_PORT = 5353
INDEX = 0x5EED1DE5  # the attacker's initiation sender index
PAYLOAD = 1440      # a transport message: 16-byte header, 1,408 bytes, 16-byte tag
LAPSE_BURST, LAPSE_RATE = 64 * 1024, 8 * 1024

# Phase 1: initiations through PAVE until a forged response comes back; writes the port found.
_UNLOCK = textwrap.dedent(r'''
    import json, os, socket, struct, sys, time
    listen, src_port, index, found_file, timeout = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
        sys.argv[4], float(sys.argv[5]))
    host, port = listen.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", src_port))
    s.settimeout(0.05)
    inits, t0, nxt, found = 0, time.monotonic(), 0.0, None
    while found is None and time.monotonic() < t0 + timeout:
        if time.monotonic() >= nxt:
            s.sendto(b"\x01\x00\x00\x00" + struct.pack("<I", index) + b"\x5c" * 140, (host, int(port)))
            inits += 1
            nxt = time.monotonic() + 1.0
        try:
            d, _ = s.recvfrom(65535)
        except socket.timeout:
            continue
        if len(d) == 92 and d[:4] == b"\x02\x00\x00\x00" and struct.unpack_from("<I", d, 8)[0] == index:
            found = struct.unpack_from("<I", d, 4)[0]
    if found is not None:
        with open(found_file, "w") as f:
            f.write(str(found))
    print(json.dumps({"port": found, "initiations": inits, "init_bytes": inits * 148,
                      "seconds": time.monotonic() - t0}))
''')

# Phase 2: `count` transport messages for the sink, receiver index = the port found, at `rate`/s.
_PAYLOAD = textwrap.dedent(r'''
    import json, socket, struct, sys, time
    listen, src_port, receiver, count, size, rate = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
        int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    host, port = listen.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", src_port))
    t0 = time.monotonic()
    for i in range(count):
        ahead = t0 + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        s.sendto(b"\x04\x00\x00\x00" + struct.pack("<IQ", receiver, i) + b"\xa5" * (size - 16), (host, int(port)))
    print(json.dumps({"sent": count, "bytes": count * size, "seconds": time.monotonic() - t0}))
''')


def relay_session(pl) -> dict:
    sessions = W.parse_sessions(pl.relay_sessions())
    return sessions[0] if sessions else {}


def wait_quiet(path, seconds=1.0):
    """Until the sink's transport count has not moved for `seconds`."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        cur = spoof.sink_stats(path).get("transport")
        if cur != last:
            last, since = cur, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.1)


def test_port_sweep_attack_is_bounded(tmp_path):
    with Lab() as lab:
        lab.build_standard()
        sink_file = tmp_path / "sink.json"
        spoof.start_sink(lab, "vpn", VPN_IP, SINK_PORT, sink_file)

        pl = W.LabPave(lab)
        pl.start_swarm()
        pl.start_client(vpn=f"{VPN_IP}:{SINK_PORT}", extra=["--listen", W.PAVE_LISTEN])
        pl.wait_connected(30)

        # 1. The sweep, with initiations through the relay until a forged response comes back.
        found_file = tmp_path / "found"
        unlock = lab.spawn("client", [W.PY, "-c", _UNLOCK, W.PAVE_LISTEN, W.CLIENT_WG_PORT, INDEX, found_file, 120],
                           label="attacker: initiations", stdout_path=tmp_path / "unlock.json")
        assert wait_until(lambda: spoof.sink_stats(sink_file).get("initiations", 0) >= 1, 10,
                          what="the first initiation at the sink")
        sweep, sweep_out = spoof.sweep_responses(lab, "boot", f"{VPN_IP}:{SINK_PORT}", RELAY_PUBLIC, INDEX,
                                                 rate=20000, stop_file=found_file, first=1024, last=65535)
        sweep.wait(180)
        unlock.wait(130)
        sw = spoof.sweep_result(sweep_out)
        un = json.loads((tmp_path / "unlock.json").read_text().strip().splitlines()[-1])
        st = spoof.sink_stats(sink_file)
        print(f"\nsweep: {sw['sent']} forged responses ({sw['bytes_ip']} B on the wire) in {sw['seconds']:.1f} s, "
              f"{un['initiations']} initiations; the relay's VPN socket, as the sink saw it: {st.get('sources')}; "
              f"port found: {un['port']}")
        s = relay_session(pl)
        if un["port"] is None:
            # The sweep covered the whole range without a hit: nothing can have been unlocked.
            assert s.get("unlocked") == "0" and st.get("transport", 0) == 0, (s, st)
            pytest.fail(f"the sweep never hit the relay's port {st.get('sources')}: the lab lost the forged "
                        f"datagrams (loaded machine?)\n{pl.relay_sessions()}")
        assert s.get("unlocked") == "1", pl.relay_sessions()
        relay_port = int(st["sources"][0].rsplit(":", 1)[1])
        assert st["sources"] == [f"{RELAY_PUBLIC}:{relay_port}"], st
        assert un["port"] == relay_port and 1024 <= relay_port <= 65535
        assert sw["sent"] <= 65535 - 1024 + 1
        # The sweep reaches the port after (port - 1024) datagrams at the earliest.
        assert sw["sent"] >= relay_port - 1024 - 256, sw
        attacker_bytes = sw["bytes_ip"] + un["init_bytes"]

        # 2. Payloads for the sink, with nothing coming back from it.
        t_a = time.monotonic()
        a = json.loads(lab.run("client", [W.PY, "-c", _PAYLOAD, W.PAVE_LISTEN, W.CLIENT_WG_PORT, relay_port,
                                          5000, PAYLOAD, 2500], timeout=60).stdout)
        wait_quiet(sink_file)
        phase_a_s = time.monotonic() - t_a
        delivered_a = spoof.sink_stats(sink_file).get("transport_bytes", 0)
        attacker_bytes += a["bytes"]
        bound_a = LAPSE_BURST + LAPSE_RATE * (phase_a_s + 1) + PAYLOAD
        print(f"silent sink: {a['sent']} x {PAYLOAD} B sent ({a['bytes']} B) in {a['seconds']:.1f} s -> "
              f"{delivered_a} B delivered (bound {bound_a:.0f}); per byte the attacker spent so far: "
              f"{delivered_a / attacker_bytes:.5f}")
        assert delivered_a <= bound_a, (delivered_a, pl.relay_sessions())
        assert int(relay_session(pl).get("drop_no_return", 0)) > 0, pl.relay_sessions()

        # 3. The same, while the boot host forges the sink's keepalives to the port found.
        ka_out = tmp_path / "keepalives.txt"
        ka = spoof.forged_keepalives(lab, "boot", f"{VPN_IP}:{SINK_PORT}", f"{RELAY_PUBLIC}:{relay_port}",
                                     INDEX, interval=5, seconds=8, out=ka_out)
        time.sleep(0.5)
        b = json.loads(lab.run("client", [W.PY, "-c", _PAYLOAD, W.PAVE_LISTEN, W.CLIENT_WG_PORT, relay_port,
                                          5000, PAYLOAD, 2500], timeout=60).stdout)
        ka.wait(30)
        wait_quiet(sink_file)
        forged = int(ka_out.read_text().strip() or 0)
        delivered_b = spoof.sink_stats(sink_file).get("transport_bytes", 0) - delivered_a
        attacker_bytes += b["bytes"] + forged * (32 + 28)
        total = delivered_a + delivered_b
        print(f"forged keepalives ({forged}): {b['sent']} x {PAYLOAD} B sent -> {delivered_b} B delivered; "
              f"session total {total} B delivered for {attacker_bytes} B spent "
              f"({total / attacker_bytes:.3f} per byte)")
        print("relay session: " + pl.relay_sessions().splitlines()[1])
        # The relay cannot tell forged return traffic from a server's: it forwards, but never
        # more than the attacker sends it.
        assert delivered_b >= 0.5 * b["bytes"], (delivered_b, pl.relay_sessions())
        assert total < attacker_bytes
        assert total <= a["bytes"] + b["bytes"]


# A UDP service that answers every datagram with 40 bytes that are not WireGuard (a DNS-like
# answer); one JSON line per datagram received.
_RESPONDER = textwrap.dedent(r'''
    import json, socket, sys, time
    ip, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    with open(path, "a") as f:
        while True:
            d, src = s.recvfrom(65535)
            s.sendto(b"\x12\x34\x81\x80" + b"\x00" * 36, src)
            f.write(json.dumps({"len": len(d), "first": d[:1].hex(), "src": f"{src[0]}:{src[1]}"}) + "\n")
            f.flush()
''')


def test_services_that_answer_or_are_closed_end_the_locked_session(tmp_path):
    """A service that answers the first forwarded initiation with anything but WireGuard, or a
    port that answers with ICMP port unreachable, closes the locked session at once: each relay
    session forwards that service a single initiation, so no sweep has time to land."""
    with Lab() as lab:
        lab.build_standard()
        log = tmp_path / "responder.jsonl"
        log.touch()
        lab.spawn("vpn", [W.PY, "-c", _RESPONDER, VPN_IP, SINK_PORT, log], label="udp responder")
        pl = W.LabPave(lab)
        pl.start_swarm()
        for target in (f"{VPN_IP}:{SINK_PORT}", f"{VPN_IP}:5354"):  # answering, then closed
            accepted_before = pl.log("relay").count("rendezvous accepted")
            ended_before = pl.log("relay").count(" ended (")
            got_before = len(log.read_text().splitlines())
            pl.start_client(vpn=target, extra=["--listen", W.PAVE_LISTEN])
            pl.wait_connected(30)
            flood = W.flood_initiations(lab, "client", W.CLIENT_WG_PORT, W.PAVE_LISTEN, rate=5, seconds=4)
            lab.stop(pl.client)
            relay_log = pl.log("relay")
            sessions = relay_log.count("rendezvous accepted") - accepted_before
            ended = relay_log.count(" ended (") - ended_before
            got = len(log.read_text().splitlines()) - got_before
            print(f"\n{target}: {flood['sent']} initiations sent to PAVE in 4 s, {sessions} relay session(s), "
                  f"{ended} ended; the service received {got} datagram(s)")
            assert flood["received"] == 0, flood
            assert sessions >= 1 and ended >= 1, relay_log[-2000:]
            why = "port unreachable" if target.endswith("5354") else "a datagram that is not WireGuard"
            assert f"{why} from the endpoint, which is no WireGuard server" in relay_log, relay_log[-2000:]
            if target.endswith(str(SINK_PORT)):
                assert 1 <= got <= sessions, log.read_text()
