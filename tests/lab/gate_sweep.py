"""Forged datagrams for the relay gate's port sweep test (tests/integration/test_gate_sweep_lab.py).

A raw socket (IPPROTO_RAW: the script writes the IPv4 header itself, with a forged source
address) in a lab namespace that routes to the target; the kernel fills in the IP checksum and
total length. Needs root, which the lab tests have. Processes are started with lab.spawn.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from lab.netlab import Lab, wait_until
from lab.wg_lab import PY

# The sweep: forged WireGuard messages "from" src to every port of dst_ip in [first, last], at
# `rate` per second: handshake responses (kind "response", 92 bytes, type 2), whose sender index
# is the port they are sent to and whose receiver index is the attacker's initiation index; or
# transport messages (kind "transport", 32 bytes, type 4: what unlocks a claimed keypair), whose
# receiver index is the claimed client index and whose counter is the port. Whoever receives
# one through the relay learns which port hit. Stops early when `stop_file` exists (checked
# every 256 datagrams). Prints {"sent", "bytes_udp", "bytes_ip", "seconds", "stopped"}.
_SWEEP = textwrap.dedent(r'''
    import json, os, socket, struct, sys, time
    src, dst_ip, first, last, receiver, rate, stop_file, kind = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
        int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7], sys.argv[8])
    src_ip, src_port = src.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    saddr, daddr = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    size = 92 if kind == "response" else 32
    def datagram(port):
        if kind == "response":
            body = b"\x02\x00\x00\x00" + struct.pack("<II", port, receiver) + b"\x5c" * 80
        else:
            body = b"\x04\x00\x00\x00" + struct.pack("<IQ", receiver, port) + b"\x5c" * 16
        udp = struct.pack("!HHHH", int(src_port), port, 8 + len(body), 0) + body
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0x4000, 64, 17, 0, saddr, daddr)
        return ip + udp
    sent = 0
    stopped = False
    t0 = time.monotonic()
    for port in range(first, last + 1):
        if sent % 256 == 0:
            if os.path.exists(stop_file):
                stopped = True
                break
            ahead = t0 + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        while True:
            try:
                s.sendto(datagram(port), (dst_ip, 0))
                break
            except (BlockingIOError, OSError):
                time.sleep(0.001)
        sent += 1
    print(json.dumps({"sent": sent, "bytes_udp": sent * size, "bytes_ip": sent * (size + 28),
                      "seconds": time.monotonic() - t0, "stopped": stopped}))
''')

# Forged WireGuard keepalives (32-byte transport messages, type 4) "from" src to dst, one every
# `interval` seconds for `seconds`. Prints the count.
_KEEPALIVES = textwrap.dedent(r'''
    import socket, struct, sys, time
    src, dst, receiver, interval, seconds = (sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
        float(sys.argv[5]))
    src_ip, src_port = src.rsplit(":", 1)
    dst_ip, dst_port = dst.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    saddr, daddr = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    n, counter, t0 = 0, 0, time.monotonic()
    while time.monotonic() < t0 + seconds:
        body = b"\x04\x00\x00\x00" + struct.pack("<IQ", receiver, counter) + b"\x00" * 16
        udp = struct.pack("!HHHH", int(src_port), int(dst_port), 8 + len(body), 0) + body
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0x4000, 64, 17, 0, saddr, daddr)
        s.sendto(ip + udp, (dst_ip, 0))
        n += 1
        counter += 1
        time.sleep(interval)
    print(n)
''')


# A UDP service that never answers (mode "sink") or sends every datagram back to its source
# (mode "echo"); it writes its totals as JSON to `path` every 100 ms: datagrams, bytes,
# transport messages (type 4) and their bytes, transport messages per size, initiations and the
# sources seen.
UDP_SINK = textwrap.dedent(r'''
    import json, os, socket, sys, time
    ip, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    echo = len(sys.argv) > 4 and sys.argv[4] == "echo"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((ip, port))
    s.settimeout(0.1)
    st = {"datagrams": 0, "bytes": 0, "transport": 0, "transport_bytes": 0, "transport_by_size": {},
          "initiations": 0, "echoed": 0, "sources": []}
    last = 0.0
    while True:
        try:
            d, src = s.recvfrom(65535)
            st["datagrams"] += 1
            st["bytes"] += len(d)
            if d[:1] == b"\x04":
                st["transport"] += 1
                st["transport_bytes"] += len(d)
                k = str(len(d))
                st["transport_by_size"][k] = st["transport_by_size"].get(k, 0) + 1
            if d[:1] == b"\x01":
                st["initiations"] += 1
            if f"{src[0]}:{src[1]}" not in st["sources"]:
                st["sources"].append(f"{src[0]}:{src[1]}")
            if echo:
                s.sendto(d, src)
                st["echoed"] += 1
        except socket.timeout:
            pass
        if time.monotonic() - last > 0.1:
            with open(path + ".tmp", "w") as f:
                json.dump(st, f)
            os.replace(path + ".tmp", path)
            last = time.monotonic()
''')


def start_sink(lab: Lab, ns: str, ip: str, port: int, path: Path, echo: bool = False):
    """Start UDP_SINK in ``ns``; returns once it has written its first totals."""
    proc = lab.spawn(ns, [PY, "-c", UDP_SINK, ip, port, path, "echo" if echo else "sink"],
                     label="udp echo" if echo else "udp sink")
    assert wait_until(lambda: path.exists(), 10, what="the sink")
    return proc


def sink_stats(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def sweep_responses(lab: Lab, ns: str, src: str, dst_ip: str, receiver: int, rate: float, stop_file: Path,
                    first: int = 1, last: int = 65535, kind: str = "response"):
    """Start the sweep in ``ns`` (a background process); read its result with :func:`sweep_result`.
    ``kind``: "response" (handshake responses) or "transport" (transport messages)."""
    assert kind in ("response", "transport")
    out = Path(str(stop_file) + ".sweep.json")
    out.unlink(missing_ok=True)
    proc = lab.spawn(ns, [PY, "-c", _SWEEP, src, dst_ip, first, last, receiver, rate, stop_file, kind],
                     label="forged-response sweep", stdout_path=out)
    return proc, out


def sweep_result(path: Path) -> dict:
    return json.loads(path.read_text().strip().splitlines()[-1])


def forged_keepalives(lab: Lab, ns: str, src: str, dst: str, receiver: int, interval: float, seconds: float,
                      out: Path):
    """Start forged keepalives in ``ns`` (a background process); ``out`` gets the count."""
    return lab.spawn(ns, [PY, "-c", _KEEPALIVES, src, dst, receiver, interval, seconds],
                     label="forged keepalives", stdout_path=out)
