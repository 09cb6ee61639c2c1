"""WireGuard through PAVE on the namespace lab: tunnel, traffic and leak-scanning helpers.

Used by tests/integration/test_relay_lab.py, tests/lab/demo.py and bench/relay, on top of
lab.netlab (namespaces, NATs, captures, counters) and lab.pave_lab (dhtnode, the PAVE boot
node, the relay behind NAT B, the client behind NAT A).

    vpn     wireguard-go "wgv", listening 203.0.113.30:51820, tunnel address 10.99.0.1/24
    client  wireguard-go "wgc", listening 51820, tunnel address 10.99.0.2/24, MTU 1420,
            its peer's Endpoint = 127.0.0.1:51821, where `pave connect --listen` waits

Every helper process is started with lab.spawn (tracked, stopped by PID by the lab).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import struct
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator, Optional

from lab.netlab import Lab, LabError, wait_until
from lab.pave_lab import PaveLab

PY = sys.executable or "/usr/bin/python3"

VPN_TUNNEL_IP = "10.99.0.1"
CLIENT_TUNNEL_IP = "10.99.0.2"
VPN_WG_PORT = 51820
CLIENT_WG_PORT = 51820
PAVE_LISTEN = "127.0.0.1:51821"
WG_MTU = 1420


# ----------------------------------------------------------------------- PAVE


class LabPave(PaveLab):
    """PaveLab whose shell commands wait (up to 10 s) for a node that has not opened its
    control socket yet, instead of failing: start_swarm() polls the boot node right after
    spawning it, which loses the race on a loaded machine."""

    def shell(self, host, state, command, connect=False):
        deadline = time.monotonic() + 10
        while True:
            try:
                return super().shell(host, state, command, connect)
            except LabError as e:
                if "cannot reach the node" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


# ------------------------------------------------------------------ WireGuard


class WgTunnel:
    """wireguard-go at both ends: the VPN server in `vpn`, the user's WireGuard in `client`.

    The VPN's peer has no endpoint (it learns it from the first authenticated packet). The
    client's peer gets its endpoint with :meth:`point_client_at` (by default PAVE's --listen).
    """

    def __init__(self, lab: Lab, vpn_ns: str = "vpn", client_ns: str = "client", mtu: int = WG_MTU):
        self.lab, self.vpn_ns, self.client_ns = lab, vpn_ns, client_ns
        c_priv, self.client_pub = lab.wg_keypair()
        v_priv, self.vpn_pub = lab.wg_keypair()
        self.vpn_if = lab.wireguard(vpn_ns, "wgv", v_priv, VPN_WG_PORT, f"{VPN_TUNNEL_IP}/24", mtu=mtu)
        self.client_if = lab.wireguard(client_ns, "wgc", c_priv, CLIENT_WG_PORT, f"{CLIENT_TUNNEL_IP}/24",
                                       mtu=mtu)
        lab.wg_peer(vpn_ns, self.vpn_if, self.client_pub, None, f"{CLIENT_TUNNEL_IP}/32")

    def point_client_at(self, endpoint: str = PAVE_LISTEN, fresh: bool = True) -> None:
        """Set the client's peer endpoint. ``fresh`` removes the peer first so WireGuard
        starts over with a handshake initiation (a relay's gate opens only on a handshake)."""
        if fresh:
            self.lab.run(self.client_ns, ["wg", "set", self.client_if, "peer", self.vpn_pub, "remove"])
        self.lab.wg_peer(self.client_ns, self.client_if, self.vpn_pub, endpoint, f"{VPN_TUNNEL_IP}/32")

    def vpn_endpoint(self) -> Optional[tuple[str, int]]:
        """The client's endpoint as the VPN's WireGuard knows it (`wg show wgv endpoints`)."""
        return self.lab.wg_endpoints(self.vpn_ns, self.vpn_if).get(self.client_pub)

    def vpn_endpoints_text(self) -> str:
        return self.lab.run(self.vpn_ns, ["wg", "show", self.vpn_if, "endpoints"]).stdout.strip()

    def transfer_counts(self, ns: str) -> tuple[int, int]:
        """(rx, tx) bytes of the only peer of the WireGuard interface in ``ns``."""
        iface = self.client_if if ns == self.client_ns else self.vpn_if
        out = self.lab.run(ns, ["wg", "show", iface, "transfer"]).stdout.split()
        return (int(out[1]), int(out[2])) if len(out) >= 3 else (0, 0)

    def latest_handshake(self, ns: str) -> int:
        iface = self.client_if if ns == self.client_ns else self.vpn_if
        out = self.lab.run(ns, ["wg", "show", iface, "latest-handshakes"]).stdout.split()
        return int(out[1]) if len(out) >= 2 else 0

    def wait_tunnel(self, timeout: float = 20) -> None:
        """Until one ping through the tunnel is answered."""
        wait_until(lambda: ping(self.lab, self.client_ns, VPN_TUNNEL_IP, count=1, wait=1).received > 0,
                   timeout, interval=0.2, what="a ping through the WireGuard tunnel")


# ---------------------------------------------------------------- ping, TCP


@dataclasses.dataclass
class PingResult:
    sent: int
    received: int
    avg_ms: Optional[float]
    output: str


def ping(lab: Lab, ns: str, ip: str, count: int = 5, interval: float = 0.2, wait: float = 2) -> PingResult:
    r = lab.run(ns, ["ping", "-n", "-q", "-c", count, "-i", interval, "-W", wait, ip], check=False,
                timeout=count * interval + wait + 10)
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", r.stdout)
    avg = re.search(r"= [\d.]+/([\d.]+)/", r.stdout)
    return PingResult(int(m.group(1)) if m else count, int(m.group(2)) if m else 0,
                      float(avg.group(1)) if avg else None, r.stdout)


_TCP_SERVER = textwrap.dedent(r'''
    import hashlib, os, socket, sys
    ip, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port)); s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    h, left = hashlib.sha256(), size
    while left:
        chunk = os.urandom(min(1 << 16, left))
        c.sendall(chunk); h.update(chunk); left -= len(chunk)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
    print("sent", size, h.hexdigest(), flush=True)
''')

_TCP_CLIENT = textwrap.dedent(r'''
    import hashlib, socket, sys, time
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    h, n, t0 = hashlib.sha256(), 0, time.monotonic()
    while True:
        data = c.recv(1 << 16)
        if not data:
            break
        h.update(data); n += len(data)
    dt = time.monotonic() - t0
    c.close()
    print("received", n, h.hexdigest(), f"{dt:.3f}", flush=True)
''')


@dataclasses.dataclass
class TransferResult:
    size: int
    sent_sha256: str
    received: int
    received_sha256: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.received == self.size and self.sent_sha256 == self.received_sha256

    @property
    def mbit_s(self) -> float:
        return self.received * 8 / self.seconds / 1e6 if self.seconds > 0 else 0.0


def tcp_transfer(lab: Lab, workdir: Path, size: int, server_ns: str = "vpn", server_ip: str = VPN_TUNNEL_IP,
                 client_ns: str = "client", port: int = 5555, timeout: float = 120,
                 stall_timeout: float = 15) -> TransferResult:
    """``size`` random bytes from a TCP server in ``server_ns`` to a client in ``client_ns``;
    both ends hash what they sent / received with SHA-256. Raises LabError when the transfer
    takes longer than ``timeout`` or receives nothing for ``stall_timeout`` seconds."""
    log = Path(workdir) / f"tcp-server-{port}.log"
    log.unlink(missing_ok=True)
    server = lab.spawn(server_ns, [PY, "-c", _TCP_SERVER, server_ip, port, size], label="tcp server",
                       stdout_path=log)
    try:
        wait_until(lambda: "listening" in (log.read_text() if log.exists() else "") or server.poll() is not None,
                   10, what="the TCP server")
        out = lab.run(client_ns, [PY, "-c", _TCP_CLIENT, server_ip, port, stall_timeout],
                      timeout=timeout).stdout.split()
        wait_until(lambda: "sent" in log.read_text() or server.poll() is not None, 10, what="the server's digest")
        sent = log.read_text().split("sent", 1)[1].split()
        return TransferResult(size=int(sent[0]), sent_sha256=sent[1], received=int(out[1]),
                              received_sha256=out[2], seconds=float(out[3]))
    finally:
        lab.stop(server)


def iperf3_mbps(lab: Lab, seconds: int, client_ns: str = "client", server_ip: str = VPN_TUNNEL_IP) -> float:
    """iperf3 TCP throughput client -> server (an iperf3 -s must run at ``server_ip``)."""
    out = lab.run(client_ns, ["iperf3", "-c", server_ip, "-t", seconds, "-J"], timeout=seconds + 30).stdout
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6


# ----------------------------------------------------------- UDP test tools

_UDP_ECHO = textwrap.dedent(r'''
    import json, socket, sys, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], int(sys.argv[2])))
    out = open(sys.argv[3], "a", buffering=1)
    out.write(json.dumps({"ready": time.time()}) + "\n")
    while True:
        data, src = s.recvfrom(65535)
        out.write(json.dumps({"t": time.time(), "src": f"{src[0]}:{src[1]}", "len": len(data),
                              "first": data[:4].hex()}) + "\n")
        s.sendto(data, src)
''')


class UdpEcho:
    """A UDP echo server that records every datagram it receives (one JSON line each)."""

    def __init__(self, lab: Lab, ns: str, ip: str, port: int, workdir: Path):
        self.path = Path(workdir) / f"udp-echo-{port}.jsonl"
        self.path.unlink(missing_ok=True)
        self.proc = lab.spawn(ns, [PY, "-c", _UDP_ECHO, ip, port, self.path], label="udp echo")
        wait_until(lambda: self.path.exists() and "ready" in self.path.read_text(), 10, what="the UDP echo server")

    def datagrams(self) -> list[dict]:
        return [d for d in (json.loads(line) for line in self.path.read_text().splitlines() if line.strip())
                if "t" in d]


_WG_INIT_FLOOD = textwrap.dedent(r'''
    import json, os, socket, sys, time
    src_port, dst, rate, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    host, port = dst.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", src_port))
    s.setblocking(False)
    sent = received = 0
    t0 = time.monotonic()
    nxt = t0
    while (now := time.monotonic()) < t0 + seconds:
        if now >= nxt:
            # The shape of a WireGuard handshake initiation: type 1, three zero bytes, 144 bytes.
            s.sendto(b"\x01\x00\x00\x00" + os.urandom(144), (host, int(port)))
            sent += 1
            nxt += 1.0 / rate
        try:
            while True:
                s.recvfrom(65535)
                received += 1
        except BlockingIOError:
            pass
        time.sleep(min(0.005, max(0.0, nxt - time.monotonic())))
    time.sleep(1.0)
    try:
        while True:
            s.recvfrom(65535)
            received += 1
    except BlockingIOError:
        pass
    print(json.dumps({"sent": sent, "received": received, "seconds": time.monotonic() - t0}))
''')


def flood_initiations(lab: Lab, ns: str, src_port: int, dst: str, rate: float, seconds: float) -> dict:
    """Send WireGuard-initiation-shaped datagrams from 127.0.0.1:``src_port`` to ``dst``;
    returns {"sent", "received", "seconds"} (received: datagrams that came back)."""
    out = lab.run(ns, [PY, "-c", _WG_INIT_FLOOD, src_port, dst, rate, seconds], timeout=seconds + 20).stdout
    return json.loads(out)


_WG_SHAPED_SENDER = textwrap.dedent(r'''
    import os, socket, sys, time
    bind_ip, bind_port, dst, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    host, port = dst.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind_ip, bind_port))
    n, t0 = 0, time.monotonic()
    while time.monotonic() < t0 + seconds:
        for pkt in (b"\x01\x00\x00\x00" + os.urandom(144), b"\x04\x00\x00\x00" + os.urandom(92)):
            s.sendto(pkt, (host, int(port))); n += 1
        time.sleep(0.05)
    print(n)
''')


def send_wireguard_shaped(lab: Lab, ns: str, bind_ip: str, bind_port: int, dst: str, seconds: float) -> int:
    """From ``bind_ip:bind_port``, send initiation- and data-shaped datagrams to ``dst``; returns the count."""
    return int(lab.run(ns, [PY, "-c", _WG_SHAPED_SENDER, bind_ip, bind_port, dst, seconds],
                       timeout=seconds + 20).stdout.strip())


# ------------------------------------------------------------ leak scanning


def address_patterns(ips: list[str], port: int) -> dict[str, bytes]:
    """Every encoding of the given IPv4 addresses (and address:port) a leak check looks for.

    raw 4 bytes, 4+2 bytes address+port big-endian, dotted text (also "ip:port"), hex text
    (lower and upper case, of the address and of address+port), IPv4-mapped IPv6 (16 bytes,
    and 16+2 with the port), and the textual IPv4-mapped forms.
    """
    pats: dict[str, bytes] = {}
    p16 = struct.pack("!H", port)
    for ip in ips:
        raw = ipaddress.IPv4Address(ip).packed
        mapped = b"\x00" * 10 + b"\xff\xff" + raw
        v6 = ipaddress.IPv6Address(mapped)
        pats[f"{ip} raw"] = raw
        pats[f"{ip}:{port} raw+port"] = raw + p16
        pats[f"{ip} dotted"] = ip.encode()
        pats[f"{ip} hex"] = raw.hex().encode()
        pats[f"{ip} HEX"] = raw.hex().upper().encode()
        pats[f"{ip}:{port} hex"] = (raw + p16).hex().encode()
        pats[f"{ip}:{port} HEX"] = (raw + p16).hex().upper().encode()
        pats[f"{ip} v4-mapped v6"] = mapped
        pats[f"{ip}:{port} v4-mapped v6+port"] = mapped + p16
        pats[f"{ip} v4-mapped v6 text"] = str(v6).encode()          # ::ffff:a01:2
        pats[f"{ip} v4-mapped v6 text dotted"] = f"::ffff:{ip}".encode()
        pats[f"{ip} v4-mapped hex"] = mapped.hex().encode()
    return pats


def find_patterns(data: bytes, patterns: dict[str, bytes]) -> list[str]:
    return [name for name, pat in patterns.items() if pat in data]


@dataclasses.dataclass(frozen=True)
class UdpPacket:
    """A UDP datagram (or a non-first fragment of one) seen on the bridge."""
    index: int
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes
    fragment: bool = False


def udp_packets(path: Path) -> Iterator[UdpPacket]:
    """UDP datagrams of an Ethernet pcap, with payload. Non-first IPv4 fragments are yielded
    with the ports of their first fragment (when it was seen) and ``fragment=True``."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        return
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(data[:4])
    if endian is None:
        raise LabError(f"{path}: not a pcap file")
    frag_ports: dict[tuple, tuple[int, int]] = {}
    off, index = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, off + 8)[0]
        frame = data[off + 16: off + 16 + incl]
        off += 16 + incl
        index += 1
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        ip = ip[:total]
        if ip[9] != 17 or len(ip) < ihl:
            continue
        ident = struct.unpack_from("!H", ip, 4)[0]
        flags_frag = struct.unpack_from("!H", ip, 6)[0]
        frag_off = flags_frag & 0x1FFF
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        key = (src, dst, ident)
        if frag_off:
            sport, dport = frag_ports.get(key, (0, 0))
            yield UdpPacket(index, src, dst, sport, dport, ip[ihl:], fragment=True)
            continue
        if len(ip) < ihl + 8:
            continue
        sport, dport = struct.unpack_from("!HH", ip, ihl)
        if flags_frag & 0x2000:
            frag_ports[key] = (sport, dport)
        yield UdpPacket(index, src, dst, sport, dport, ip[ihl + 8:])


def is_opendht_payload(payload: bytes) -> bool:
    """OpenDHT messages are msgpack maps: first byte 0x80-0x8f (fixmap), 0xde or 0xdf (map16/32)."""
    return bool(payload) and (0x80 <= payload[0] <= 0x8F or payload[0] in (0xDE, 0xDF))


@dataclasses.dataclass
class LeakReport:
    dht_packets: int = 0
    excluded_to_client: int = 0
    scanned_bytes: int = 0
    leaks: list = dataclasses.field(default_factory=list)  # (packet index, src:sport, dst:dport, names)


def scan_dht_traffic(pcap: Path, patterns: dict[str, bytes], dht_hosts: dict[str, tuple[int, ...]],
                     exclude_dst: set[str]) -> LeakReport:
    """Look for ``patterns`` in every packet exchanged with DHT nodes.

    A packet is DHT traffic when its UDP payload is an OpenDHT msgpack map
    (:func:`is_opendht_payload`) or it goes to / comes from one of ``dht_hosts``' ports
    (ip -> ports). Packets whose IP destination is in ``exclude_dst`` are counted but not
    scanned (a node telling a host its own address, e.g. OpenDHT's "sa" field or a STUN
    answer, discloses nothing to anyone else).
    """
    rep = LeakReport()
    dht_frags: set[tuple] = set()
    for p in udp_packets(pcap):
        to_host = p.dst in dht_hosts and p.dport in dht_hosts[p.dst]
        from_host = p.src in dht_hosts and p.sport in dht_hosts[p.src]
        if p.fragment:
            is_dht = (p.src, p.dst, p.sport, p.dport) in dht_frags or to_host or from_host
        else:
            is_dht = is_opendht_payload(p.payload) or to_host or from_host
            if is_dht:
                dht_frags.add((p.src, p.dst, p.sport, p.dport))
        if not is_dht:
            continue
        rep.dht_packets += 1
        if p.dst in exclude_dst:
            rep.excluded_to_client += 1
            continue
        rep.scanned_bytes += len(p.payload)
        names = find_patterns(p.payload, patterns)
        if names:
            where = sorted({path for n in names for path in msgpack_paths(p.payload, patterns[n])})
            rep.leaks.append((p.index, f"{p.src}:{p.sport}", f"{p.dst}:{p.dport}",
                              names + ([f"in msgpack field(s) {', '.join(where)}"] if where else [])))
    return rep


# ------------------------------------------------------ msgpack and exports


class _Msgpack:
    """A minimal msgpack decoder (enough for OpenDHT's exported values); raises ValueError."""

    def __init__(self, data: bytes):
        self.d, self.i = data, 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.d):
            raise ValueError("truncated msgpack")
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def _u(self, fmt: str) -> int:
        return struct.unpack("!" + fmt, self._take(struct.calcsize(fmt)))[0]

    def obj(self, depth: int = 0):
        if depth > 64:
            raise ValueError("msgpack too deep")
        b = self._take(1)[0]
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self._map(b & 0x0F, depth)
        if 0x90 <= b <= 0x9F:
            return [self.obj(depth + 1) for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF:
            return self._take(b & 0x1F).decode("utf-8", "replace")
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if b in simple:
            return simple[b]
        if b in (0xC4, 0xC5, 0xC6):
            return bytes(self._take(self._u({0xC4: "B", 0xC5: "H", 0xC6: "I"}[b])))
        if b in (0xC7, 0xC8, 0xC9):
            n = self._u({0xC7: "B", 0xC8: "H", 0xC9: "I"}[b])
            self._take(1)
            return bytes(self._take(n))
        if b == 0xCA:
            return struct.unpack("!f", self._take(4))[0]
        if b == 0xCB:
            return struct.unpack("!d", self._take(8))[0]
        ints = {0xCC: "B", 0xCD: "H", 0xCE: "I", 0xCF: "Q", 0xD0: "b", 0xD1: "h", 0xD2: "i", 0xD3: "q"}
        if b in ints:
            return self._u(ints[b])
        if b in (0xD4, 0xD5, 0xD6, 0xD7, 0xD8):
            self._take(1)
            return bytes(self._take({0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}[b]))
        if b in (0xD9, 0xDA, 0xDB):
            return self._take(self._u({0xD9: "B", 0xDA: "H", 0xDB: "I"}[b])).decode("utf-8", "replace")
        if b in (0xDC, 0xDD):
            return [self.obj(depth + 1) for _ in range(self._u("H" if b == 0xDC else "I"))]
        if b in (0xDE, 0xDF):
            return self._map(self._u("H" if b == 0xDE else "I"), depth)
        raise ValueError(f"unsupported msgpack byte {b:#x}")

    def _map(self, n: int, depth: int) -> dict:
        out = {}
        for _ in range(n):
            k = self.obj(depth + 1)
            out[k if isinstance(k, (str, int, bytes)) else repr(k)] = self.obj(depth + 1)
        return out


def msgpack_decode(data: bytes):
    dec = _Msgpack(data)
    value = dec.obj()
    if dec.i != len(data):
        raise ValueError("trailing bytes after msgpack object")
    return value


def msgpack_paths(data: bytes, pattern: bytes) -> list[str]:
    """Where ``pattern`` occurs inside a msgpack message: paths such as "r/n4" of the strings
    or binaries holding it (empty if ``data`` is not msgpack)."""
    try:
        obj = msgpack_decode(data)
    except ValueError:
        return []
    found: list[str] = []

    def walk(o, path: str) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{path}/{k}" if path else str(k))
        elif isinstance(o, list):
            for v in o:
                walk(v, path + "[]")
        elif isinstance(o, (bytes, str)):
            if pattern in (o if isinstance(o, bytes) else o.encode()):
                found.append(path or "(top)")
    walk(obj, "")
    return found


def _value_datas(obj) -> list[bytes]:
    """The "data" binaries anywhere in a decoded OpenDHT export."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "data" and isinstance(v, bytes):
                found.append(v)
            else:
                found += _value_datas(v)
    elif isinstance(obj, list):
        for v in obj:
            found += _value_datas(v)
    return found


@dataclasses.dataclass
class ExportedKey:
    key: str
    blob: bytes
    values: list[bytes]       # the user data of each value stored at the key
    decode_error: str = ""


def parse_dht_export(text: str) -> list[ExportedKey]:
    """Parse `pave shell -c "dht export"` output: "<key hex> <value hex>" lines, where each
    blob is OpenDHT's export of one key: a msgpack array of [created, value] pairs, each value
    a map {"id", "dat": {"body": {"type", "data": bin, ...}}}."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or line.startswith("#"):
            continue
        blob = bytes.fromhex(parts[1])
        try:
            values = _value_datas(msgpack_decode(blob))
            err = ""
        except ValueError as e:
            values, err = [], str(e)
        out.append(ExportedKey(parts[0], blob, values, err))
    return out


def export_value_sizes(keys: list[ExportedKey]) -> dict[int, int]:
    """Size of the stored user data -> how many values of that size."""
    sizes: dict[int, int] = {}
    for k in keys:
        for v in k.values:
            sizes[len(v)] = sizes.get(len(v), 0) + 1
    return dict(sorted(sizes.items()))


def scan_exports(keys: list[ExportedKey], patterns: dict[str, bytes]) -> list[tuple[str, list[str]]]:
    """(key, pattern names) for every exported key whose raw blob or any value contains a pattern."""
    hits = []
    for k in keys:
        names = set(find_patterns(k.blob, patterns))
        for v in k.values:
            names |= set(find_patterns(v, patterns))
        if names:
            hits.append((k.key, sorted(names)))
    return hits


# ---------------------------------------------------------- sessions lines


def parse_sessions(text: str) -> list[dict]:
    """The session lines of `shell -c sessions` as dicts of their key=value fields (plus
    "role" and "id"); "wg_to_vpn=12/3456B" becomes packets 12, bytes 3456 ("wg_to_vpn_pkts",
    "wg_to_vpn_bytes")."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] not in ("relay", "client"):
            continue
        d: dict = {"role": words[0], "id": words[1]}
        for w in words[2:]:
            k, eq, v = w.partition("=")
            if not eq:
                continue
            d[k] = v
            m = re.fullmatch(r"(\d+)/(\d+)B", v)
            if m:
                d[k + "_pkts"], d[k + "_bytes"] = int(m.group(1)), int(m.group(2))
        out.append(d)
    return out


def elapsed(t0: float) -> str:
    return f"{time.monotonic() - t0:.1f} s"
