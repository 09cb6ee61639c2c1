"""Network-namespace lab for PAVE's integration tests, benchmarks and demo.

A :class:`Lab` builds a small, closed "internet" out of Linux network
namespaces on one machine:

* ``inet``: a namespace holding only a bridge, the lab's internet
  (203.0.113.0/24). The bridge is the capture point (:meth:`Lab.capture`).
* public hosts: one interface on the bridge (:meth:`Lab.add_public_host`).
* NATed hosts: a host on a private /24 behind its own NAT router, whose WAN
  side sits on the bridge (:meth:`Lab.add_natted_host`). NAT is done with
  nftables in the router's namespace, either ``"cone"`` (plain masquerade:
  endpoint-independent, port-preserving mapping with port-restricted
  filtering) or ``"symmetric"`` (``masquerade fully-random``). Unsolicited
  inbound packets are dropped at the WAN side, as a home router does.

Nothing is linked to the root namespace, so no packet can leave the machine.
Every namespace and interface name starts with a per-run prefix such as
``pv1234-``, so concurrent labs never collide; interface names stay within
the kernel's 15 characters.

The lab tracks every process it starts. Teardown (``with Lab() as lab:``,
:meth:`Lab.close`, interpreter exit, or SIGTERM of the process) kills them,
then anything else still inside the lab's namespaces, then deletes the
namespaces and any WireGuard control sockets the lab created. Teardown is
idempotent.

Requires root, iproute2, nftables, conntrack, and for the optional parts
wireguard-go, wireguard-tools, tcpdump.
"""

from __future__ import annotations

import atexit
import dataclasses
import ipaddress
import json
import os
import re
import signal
import struct
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

INTERNET = ipaddress.ip_network("203.0.113.0/24")
"""The subnet of the lab's internet bridge; every public address lives here."""

ALLOWED_NETWORKS = (
    INTERNET,
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.ip_network("10.0.0.0/8"),
)
"""The only networks the lab assigns addresses from (documentation ranges and 10/8)."""

NAT_MODES = ("cone", "symmetric")
WG_SOCKET_DIR = Path("/var/run/wireguard")
KILL_GRACE_S = 2.0
MAX_NAME_LEN = 6  # prefix (<= 7) + name (<= 6) + suffix (1) <= 15 = IFNAMSIZ - 1

_NAT_TABLE = "pave_nat"
_COUNT_TABLE = "pave_count"
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*$")


class LabError(RuntimeError):
    """A lab command failed or a lab operation was used wrongly."""


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05,
               what: str = "condition") -> object:
    """Poll ``predicate`` until it returns a true value and return that value.

    Raises :class:`LabError` naming ``what`` if ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    # The state field follows the parenthesised command name.
    return stat[stat.rindex(b")") + 2:][:1] != b"Z"


def lab_namespaces(prefix: str) -> list[str]:
    """Names of existing network namespaces starting with ``prefix``."""
    out = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True,
                         text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix)]


def _check_address(ip: str) -> None:
    if not any(ipaddress.ip_address(ip) in net for net in ALLOWED_NETWORKS):
        raise LabError(f"{ip} is outside the lab's address ranges")


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or len(name) > MAX_NAME_LEN:
        raise LabError(f"bad lab name {name!r}: lowercase alphanumeric, at most "
                       f"{MAX_NAME_LEN} characters, starting with a letter")


@dataclasses.dataclass
class Host:
    """A host in the lab: its namespace and addresses.

    ``ip`` is the address on its own interface; ``public_ip`` the address the
    internet sees (its NAT router's WAN address, or ``ip`` for public hosts).
    """
    name: str
    ns: str
    ip: str
    public_ip: str
    router: Optional[str] = None


@dataclasses.dataclass
class PortForward:
    """A DNAT rule on a router: ``wan_ip:port`` -> ``to_ip:to_port``."""
    port: int
    to_ip: str
    to_port: int
    proto: str = "udp"


@dataclasses.dataclass
class Router:
    """A NAT router: WAN interface on the bridge, LAN interface to one host."""
    name: str
    ns: str
    wan_ip: str
    lan_ip: str
    wan_if: str
    lan_if: str
    nat: str
    forwards: list[PortForward] = dataclasses.field(default_factory=list)


class Lab:
    """A set of network namespaces forming a closed test internet.

    Use as a context manager; all lab methods take the lab-local names of
    namespaces ("client", "natb", "inet", ...), not the prefixed ones.
    """

    def __init__(self) -> None:
        self.prefix = self._free_prefix()
        self.hosts: dict[str, Host] = {}
        self.routers: dict[str, Router] = {}
        self.bridge = self.prefix + "br0"
        self._namespaces: list[str] = []  # lab-local names, in creation order
        self._procs: dict[int, tuple[str, subprocess.Popen]] = {}
        self._wg_ifaces: list[str] = []
        self._closed = False
        _register(self)

    # ----------------------------------------------------------- lifecycle

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @staticmethod
    def _free_prefix() -> str:
        """``pv<pid % 10000>-``, or the next number not used by any namespace."""
        taken = {n.split("-")[0] + "-" for n in lab_namespaces("pv")}
        base = os.getpid() % 10000
        for i in range(10000):
            prefix = f"pv{(base + i) % 10000}-"
            if prefix not in taken:
                return prefix
        raise LabError("no free lab prefix")

    def close(self) -> None:
        """Tear the lab down: processes, namespaces, WireGuard sockets. Idempotent."""
        self._closed = True
        errors = []
        self._kill_tracked()
        while self._namespaces:
            name = self._namespaces[-1]
            try:
                self.kill_namespace_processes(name)
            except LabError as e:  # keep going: delete what can be deleted
                errors.append(str(e))
            subprocess.run(["ip", "netns", "del", self.ns(name)], capture_output=True)
            self._namespaces.pop()
        while self._wg_ifaces:
            (WG_SOCKET_DIR / f"{self._wg_ifaces.pop()}.sock").unlink(missing_ok=True)
        _unregister(self)
        if errors:
            raise LabError("teardown incomplete: " + "; ".join(errors))

    def _kill_tracked(self) -> None:
        procs = list(self._procs.values())
        for _, proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + KILL_GRACE_S
        for _, proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in [p.pid for _, p in procs]:
            self._procs.pop(pid, None)

    # ---------------------------------------------------------- namespaces

    def ns(self, name: str) -> str:
        """The machine-wide namespace name of lab namespace ``name``."""
        return self.prefix + name

    def ifname(self, name: str, suffix: str = "") -> str:
        """The machine-wide unique interface name for ``name`` (plus a suffix)."""
        full = self.prefix + name + suffix
        if len(full) > 15:
            raise LabError(f"interface name {full!r} is longer than 15 characters")
        return full

    def add_namespace(self, name: str, router: bool = False) -> str:
        """Create an empty namespace: lo up, IPv6 off, rp_filter off, no redirects.

        Routers also get IPv4 forwarding. Returns the machine-wide name.
        """
        if self._closed:
            raise LabError("lab is closed")
        _check_name(name)
        if name in self._namespaces:
            raise LabError(f"namespace {name!r} exists")
        res = subprocess.run(["ip", "netns", "add", self.ns(name)], capture_output=True, text=True)
        if res.returncode != 0:
            raise LabError(f"ip netns add {self.ns(name)}: {res.stderr.strip()}")
        self._namespaces.append(name)
        settings = {
            "net.ipv6.conf.all.disable_ipv6": 1,
            "net.ipv6.conf.default.disable_ipv6": 1,
            "net.ipv4.conf.all.rp_filter": 0,
            "net.ipv4.conf.default.rp_filter": 0,
            "net.ipv4.conf.all.accept_redirects": 0,
            "net.ipv4.conf.default.accept_redirects": 0,
            "net.ipv4.conf.all.send_redirects": 0,
            "net.ipv4.conf.default.send_redirects": 0,
            "net.ipv4.ip_forward": 1 if router else 0,
        }
        self.run(name, ["sysctl", "-q", "-w"] + [f"{k}={v}" for k, v in settings.items()])
        self.run(name, ["ip", "link", "set", "lo", "up"])
        return self.ns(name)

    def _ensure_internet(self) -> None:
        if "inet" in self._namespaces:
            return
        self.add_namespace("inet")
        self.run("inet", ["ip", "link", "add", self.bridge, "type", "bridge", "stp_state", "0"])
        self.run("inet", ["ip", "link", "set", self.bridge, "up"])

    def _veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        """Create a veth pair directly between two lab namespaces."""
        self.run(ns_a, ["ip", "link", "add", if_a, "type", "veth",
                        "peer", "name", if_b, "netns", self.ns(ns_b)])

    def _address(self, name: str, iface: str, cidr: str) -> None:
        self.run(name, ["ip", "addr", "add", cidr, "dev", iface])
        self.run(name, ["ip", "link", "set", iface, "up"])

    def _uplink(self, name: str, ip: str) -> str:
        """Attach namespace ``name`` to the bridge with ``ip``/24; returns its interface."""
        if ipaddress.ip_address(ip) not in INTERNET:
            raise LabError(f"public address {ip} is not in {INTERNET}")
        self._ensure_internet()
        iface, port = self.ifname(name), self.ifname(name, "b")
        self._veth(name, iface, "inet", port)
        self.run("inet", ["ip", "link", "set", port, "master", self.bridge, "up"])
        self._address(name, iface, f"{ip}/{INTERNET.prefixlen}")
        return iface

    def add_public_host(self, name: str, ip: str) -> Host:
        """A host with a public address directly on the internet bridge."""
        _check_address(ip)
        self.add_namespace(name)
        self._uplink(name, ip)
        host = Host(name=name, ns=self.ns(name), ip=ip, public_ip=ip)
        self.hosts[name] = host
        return host

    def add_natted_host(self, name: str, router: str, wan_ip: str, lan_subnet: str,
                        nat: str = "cone") -> Host:
        """A host behind its own NAT router.

        The router ``router`` gets ``wan_ip`` on the bridge and ``.1`` of
        ``lan_subnet`` (a /24 in 10/8); the host gets ``.2`` with a default
        route via the router. ``nat`` is one of :data:`NAT_MODES`.
        """
        net = ipaddress.ip_network(lan_subnet)
        if net.prefixlen != 24 or not net.subnet_of(ipaddress.ip_network("10.0.0.0/8")):
            raise LabError(f"LAN subnet {lan_subnet} must be a /24 inside 10.0.0.0/8")
        _check_address(wan_ip)
        lan_ip, host_ip = str(net.network_address + 1), str(net.network_address + 2)

        self.add_namespace(router, router=True)
        wan_if = self._uplink(router, wan_ip)
        lan_if = self.ifname(router, "l")
        self.add_namespace(name)
        host_if = self.ifname(name)
        self._veth(router, lan_if, name, host_if)
        self._address(router, lan_if, f"{lan_ip}/24")
        self._address(name, host_if, f"{host_ip}/24")
        self.run(name, ["ip", "route", "add", "default", "via", lan_ip])

        self.routers[router] = Router(name=router, ns=self.ns(router), wan_ip=wan_ip,
                                      lan_ip=lan_ip, wan_if=wan_if, lan_if=lan_if, nat=nat)
        self.set_nat(router, nat)
        host = Host(name=name, ns=self.ns(name), ip=host_ip, public_ip=wan_ip, router=router)
        self.hosts[name] = host
        return host

    def build_standard(self, nat_a: str = "cone", nat_b: str = "cone") -> "Lab":
        """The standard PAVE topology.

        ========  ===============================  =======================
        name      role                             address
        ========  ===============================  =======================
        inet      internet bridge                  203.0.113.0/24
        nata      client's NAT (``nat_a``)         203.0.113.10, 10.1.0.1
        client    PAVE client                      10.1.0.2
        natb      relay's NAT (``nat_b``)          203.0.113.20, 10.2.0.1
        relay     PAVE relay                       10.2.0.2
        vpn       WireGuard VPN server             203.0.113.30
        boot      DHT bootstrap host               203.0.113.40
        ========  ===============================  =======================
        """
        self.add_natted_host("client", "nata", "203.0.113.10", "10.1.0.0/24", nat_a)
        self.add_natted_host("relay", "natb", "203.0.113.20", "10.2.0.0/24", nat_b)
        self.add_public_host("vpn", "203.0.113.30")
        self.add_public_host("boot", "203.0.113.40")
        return self

    # ------------------------------------------------------------------ NAT

    def set_nat(self, router: str, mode: str) -> None:
        """(Re)install the router's NAT ruleset in ``mode`` and flush its conntrack table.

        Port forwards (:meth:`forward_port`) are kept. Flushing conntrack
        matters: stale entries keep old translations and fake results.
        """
        if mode not in NAT_MODES:
            raise LabError(f"NAT mode {mode!r} not in {NAT_MODES}")
        r = self.routers[router]
        r.nat = mode
        self._apply_nat(r)

    def forward_port(self, router: str, port: int, to_ip: str, to_port: Optional[int] = None,
                     proto: str = "udp") -> None:
        """DNAT ``wan_ip:port`` of ``router`` to ``to_ip:to_port``.

        ``to_ip`` may be on the router's LAN (a port forward) or on the
        internet (a kernel relay: the packet leaves the WAN again, masqueraded
        so the destination sees the router's address).
        """
        _check_address(to_ip)
        r = self.routers[router]
        r.forwards.append(PortForward(port, to_ip, to_port or port, proto))
        self._apply_nat(r)

    def clear_forwards(self, router: str) -> None:
        """Remove every port forward of ``router`` (and flush its conntrack table)."""
        r = self.routers[router]
        r.forwards.clear()
        self._apply_nat(r)

    def _apply_nat(self, r: Router) -> None:
        fully_random = " fully-random" if r.nat == "symmetric" else ""
        dnat = "".join(
            f'        iifname "{r.wan_if}" {f.proto} dport {f.port} '
            f"dnat to {f.to_ip}:{f.to_port}\n" for f in r.forwards)
        ruleset = f"""
table ip {_NAT_TABLE}
delete table ip {_NAT_TABLE}
table ip {_NAT_TABLE} {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
{dnat}    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{r.wan_if}" masquerade{fully_random}
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "{r.lan_if}" oifname "{r.wan_if}" accept
        iifname "{r.wan_if}" ct status dnat accept
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "{r.wan_if}" ct state established,related accept
        iifname "{r.wan_if}" drop
    }}
}}
"""
        self.run(r.name, ["nft", "-f", "-"], input=ruleset)
        self.run(r.name, ["conntrack", "-F"])

    # ------------------------------------------------------------ processes

    def _exec_argv(self, name: str, argv: Sequence[str]) -> list[str]:
        if name not in self._namespaces:
            raise LabError(f"no namespace {name!r} in this lab")
        return ["ip", "netns", "exec", self.ns(name), *argv]

    def run(self, name: str, argv: Sequence[str], check: bool = True, timeout: float = 30,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run ``argv`` in namespace ``name`` to completion, capturing text output.

        With ``check``, a non-zero exit raises :class:`LabError` carrying stderr.
        """
        argv = [str(a) for a in argv]
        res = subprocess.run(self._exec_argv(name, argv), capture_output=True, text=True,
                             timeout=timeout, input=input,
                             stdin=None if input is not None else subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise LabError(f"[{name}] {' '.join(argv)} exited {res.returncode}: "
                           f"{res.stderr.strip() or res.stdout.strip()}")
        return res

    def spawn(self, name: str, argv: Sequence[str], label: str, env: Optional[dict] = None,
              stdout_path: Optional[os.PathLike] = None) -> subprocess.Popen:
        """Start ``argv`` in namespace ``name`` in the background; the lab tracks its PID.

        ``label`` names the process in :meth:`processes`. ``env`` adds variables to the
        inherited environment. stdout and stderr go to ``stdout_path`` (appended)
        or are discarded. The PID is the program's own (``ip netns exec`` execs).
        """
        full_env = {**os.environ, **(env or {})}
        argv = [str(a) for a in argv]
        out = open(stdout_path, "ab") if stdout_path else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(self._exec_argv(name, argv), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True)
        finally:
            if stdout_path:
                out.close()
        self._procs[proc.pid] = (label, proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """Stop a tracked process: SIGTERM, SIGKILL after the grace period."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.pop(proc.pid, None)

    def processes(self) -> dict[int, str]:
        """PID -> label of every tracked process still running."""
        return {pid: label for pid, (label, p) in self._procs.items() if p.poll() is None}

    def ns_pids(self, name: str) -> list[int]:
        """PIDs of every process inside namespace ``name`` (``ip netns pids``)."""
        out = subprocess.run(["ip", "netns", "pids", self.ns(name)], capture_output=True,
                             text=True).stdout
        return [int(p) for p in out.split()]

    def kill_namespace_processes(self, name: str) -> None:
        """SIGKILL every process inside namespace ``name`` and wait until none is left.

        This catches what PID tracking cannot, e.g. the children of ``socat fork``.
        """
        def remaining() -> list[int]:
            return [pid for pid in self.ns_pids(name) if pid_alive(pid)]

        for pid in remaining():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in list(self._procs):  # reap and forget tracked processes that died
            if self._procs[pid][1].poll() is not None:
                self._procs.pop(pid)
        wait_until(lambda: not remaining(), KILL_GRACE_S, what=f"processes of {name} to die")

    def capture(self, path: os.PathLike) -> subprocess.Popen:
        """Capture every packet crossing the internet bridge into a pcap file.

        Returns the tcpdump process (tracked; stop it with :meth:`stop`). The
        capture is running when this returns. Read it with :func:`ipv4_packets`.
        """
        self._ensure_internet()
        path = Path(path)
        path.unlink(missing_ok=True)
        proc = self.spawn("inet", ["tcpdump", "-i", self.bridge, "-w", path, "-U",
                                   "--immediate-mode", "-Z", "root", "-n"], label="tcpdump")
        wait_until(lambda: path.exists() and path.stat().st_size >= 24, 5,
                   what="tcpdump to start")
        return proc

    # ------------------------------------------------------------ WireGuard

    @staticmethod
    def wg_keypair() -> tuple[str, str]:
        """A fresh WireGuard key pair (private, public), base64."""
        private = subprocess.run(["wg", "genkey"], check=True, capture_output=True,
                                 text=True).stdout.strip()
        public = subprocess.run(["wg", "pubkey"], check=True, capture_output=True, text=True,
                                input=private).stdout.strip()
        return private, public

    def wg_ifname(self, iface: str) -> str:
        """The machine-wide name of WireGuard interface ``iface`` (prefixed once)."""
        return iface if iface.startswith(self.prefix) else self.ifname(iface)

    def wireguard(self, name: str, iface: str, private_key: str, listen_port: int,
                  address_cidr: str, mtu: int = 1420) -> str:
        """Start a wireguard-go interface in namespace ``name`` and configure it.

        Returns the interface's machine-wide name (``iface`` with the lab
        prefix); the WireGuard methods accept either name.
        """
        _check_address(address_cidr.split("/")[0])
        full = self.wg_ifname(iface)
        sock = WG_SOCKET_DIR / f"{full}.sock"
        self._wg_ifaces.append(full)
        proc = self.spawn(name, ["wireguard-go", "-f", full], label=f"wireguard-go {full}")
        wait_until(lambda: sock.exists() or proc.poll() is not None, 5,
                   what=f"{sock} to appear")
        if proc.poll() is not None:
            raise LabError(f"wireguard-go {full} exited {proc.returncode}")
        self.run(name, ["wg", "set", full, "private-key", "/dev/stdin",
                        "listen-port", listen_port], input=private_key + "\n")
        self.run(name, ["ip", "addr", "add", address_cidr, "dev", full])
        self.run(name, ["ip", "link", "set", full, "mtu", mtu, "up"])
        return full

    def wg_peer(self, name: str, iface: str, public_key: str, endpoint: Optional[str],
                allowed_ips: str, keepalive: Optional[int] = None) -> None:
        """Add or update a peer; ``endpoint`` "ip:port" or None to let it roam in."""
        argv = ["wg", "set", self.wg_ifname(iface), "peer", public_key,
                "allowed-ips", allowed_ips]
        if endpoint:
            argv += ["endpoint", endpoint]
        if keepalive is not None:
            argv += ["persistent-keepalive", keepalive]
        self.run(name, argv)

    def wg_endpoints(self, name: str, iface: str) -> dict[str, Optional[tuple[str, int]]]:
        """Peer public key -> current (ip, port) endpoint, or None if unknown."""
        out = self.run(name, ["wg", "show", self.wg_ifname(iface), "endpoints"]).stdout
        endpoints: dict[str, Optional[tuple[str, int]]] = {}
        for line in out.splitlines():
            key, _, ep = line.partition("\t")
            if ep in ("", "(none)"):
                endpoints[key] = None
            else:
                host, _, port = ep.rpartition(":")
                endpoints[key] = (host.strip("[]"), int(port))
        return endpoints

    # ------------------------------------------------------------- counters

    @staticmethod
    def _counter_name(ip: str) -> str:
        return "from_" + ip.replace(".", "_")

    def count_from(self, name: str, ip: str) -> None:
        """Count every packet with source ``ip`` entering namespace ``name``.

        The rule sits at prerouting, before conntrack and routing, so it sees
        packets to the host itself and packets it forwards alike.
        """
        _check_address(ip)
        counter = self._counter_name(ip)
        self.run(name, ["nft", "-f", "-"], input=f"""
table ip {_COUNT_TABLE} {{
    counter {counter} {{ }}
    chain prerouting {{
        type filter hook prerouting priority raw; policy accept;
        ip saddr {ip} counter name "{counter}"
    }}
}}
""")

    def counter_value(self, name: str, ip: str) -> int:
        """Packets counted so far by :meth:`count_from` for ``ip`` in ``name``."""
        out = self.run(name, ["nft", "-j", "list", "counter", "ip", _COUNT_TABLE,
                              self._counter_name(ip)]).stdout
        for item in json.loads(out)["nftables"]:
            if "counter" in item:
                return int(item["counter"]["packets"])
        raise LabError(f"no counter for {ip} in {name}")


# --------------------------------------------------------------- pcap reading

@dataclasses.dataclass(frozen=True)
class Packet:
    """An IPv4 packet seen in a capture (ports are 0 for protocols without)."""
    src: str
    dst: str
    proto: int
    sport: int
    dport: int


def ipv4_packets(path: os.PathLike) -> Iterator[Packet]:
    """Yield the IPv4 packets of an Ethernet pcap file as written by :meth:`Lab.capture`."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        return
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None:
        raise LabError(f"{path}: not a pcap file")
    off = 24
    while off + 16 <= len(data):
        incl_len = struct.unpack_from(endian + "I", data, off + 8)[0]
        frame = data[off + 16: off + 16 + incl_len]
        off += 16 + incl_len
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0x0F) * 4
        proto = frame[23]
        src = str(ipaddress.IPv4Address(frame[26:30]))
        dst = str(ipaddress.IPv4Address(frame[30:34]))
        sport = dport = 0
        if proto in (6, 17) and len(frame) >= 14 + ihl + 4:
            sport, dport = struct.unpack_from("!HH", frame, 14 + ihl)
        yield Packet(src, dst, proto, sport, dport)


# ------------------------------------------------------ process-wide teardown

_LIVE: list[Lab] = []
_handlers_installed = False
_previous_sigterm: object = signal.SIG_DFL


def _close_all() -> None:
    """Tear down every lab of this process that is still open."""
    for lab in list(_LIVE):
        lab.close()


def _on_sigterm(signum: int, frame: object) -> None:
    """Tear every live lab down, then let the previous disposition of SIGTERM act."""
    try:
        _close_all()
    finally:
        if callable(_previous_sigterm):
            _previous_sigterm(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    """Tear labs down at interpreter exit and on SIGTERM (unless SIGTERM is ignored)."""
    global _previous_sigterm
    atexit.register(_close_all)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: rely on atexit and the context manager
        return
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        _previous_sigterm = previous


def _register(lab: Lab) -> None:
    global _handlers_installed
    if not _handlers_installed:
        _handlers_installed = True
        _install_handlers()
    _LIVE.append(lab)


def _unregister(lab: Lab) -> None:
    if lab in _LIVE:
        _LIVE.remove(lab)
