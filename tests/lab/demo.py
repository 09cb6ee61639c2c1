#!/usr/bin/python3
"""PAVE demo: a WireGuard client reaches its VPN server through a random peer relay.

Builds a closed namespace "internet" on this machine (nothing leaves it), starts a DHT swarm,
a PAVE relay behind one NAT, a WireGuard VPN server, and a WireGuard client behind another NAT
whose Endpoint is `pave connect`. Then it pings and transfers data through the tunnel and shows
what each party saw. Everything started is stopped by PID at the end.

Run as root: `bash scripts/demo` (installs, builds, runs this), or `/usr/bin/python3 tests/lab/demo.py`
with PAVE built in ./build (or PAVE_BUILD=dir). Exit status 0 on success.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab import wg_lab as W  # noqa: E402
from lab.netlab import Lab, LabError  # noqa: E402
from lab.pave_lab import (BOOT_IP, CLIENT_PORT, CLIENT_PRIVATE, CLIENT_PUBLIC, RELAY_PRIVATE,  # noqa: E402
                          RELAY_PUBLIC, VPN_IP)
from lab.swarm import pave_bin  # noqa: E402

TRANSFER_BYTES = 20 << 20
T0 = time.monotonic()


class DemoFailed(Exception):
    pass


def section(title: str) -> None:
    print(f"\n== {title}  [{time.monotonic() - T0:4.1f} s]", flush=True)


def say(text: str = "") -> None:
    for line in text.splitlines() or [""]:
        print("   " + line, flush=True)


def check(cond: object, message: str) -> None:
    if not cond:
        raise DemoFailed(message)


def client_progress(pl: W.LabPave, seen: int) -> int:
    """Print the client's new progress lines ("pave connect: ...") and return how many were seen."""
    lines = [ln for ln in pl.log("client").splitlines() if ln.startswith("pave connect:")]
    for ln in lines[seen:]:
        say("client | " + ln[len("pave connect: "):])
    return len(lines)


def run() -> None:
    if os.geteuid() != 0:
        raise DemoFailed("the demo needs root (it creates network namespaces): sudo bash scripts/demo")
    if not Path(pave_bin()).exists():
        raise DemoFailed(f"{pave_bin()} not found: build PAVE first (meson setup build && ninja -C build)")

    with Lab() as lab:
        section("1. A small internet in network namespaces (nothing leaves this machine)")
        lab.build_standard()
        lab.count_from("vpn", CLIENT_PUBLIC)
        say(f"client  {CLIENT_PRIVATE:<10} behind NAT A, public {CLIENT_PUBLIC}   (the user)")
        say(f"relay   {RELAY_PRIVATE:<10} behind NAT B, public {RELAY_PUBLIC}   (a random PAVE peer)")
        say(f"vpn     {VPN_IP:<10}                                 (an ordinary WireGuard server)")
        say(f"boot    {BOOT_IP:<10}                                 (DHT bootstrap: dhtnode + a PAVE node)")

        section("2. The peer-to-peer swarm")
        pl = W.LabPave(lab)
        pl.start_swarm()
        say("dhtnode and a PAVE node run on boot; the relay joined the DHT, published a signed")
        say(f"presence record (no address in it) and learned its public address {RELAY_PUBLIC}")

        section("3. The VPN server and the user's WireGuard")
        tun = W.WgTunnel(lab)
        say(f"vpn:    wireguard-go listening on {VPN_IP}:{W.VPN_WG_PORT}, tunnel address {W.VPN_TUNNEL_IP}")
        say(f"client: wireguard-go, tunnel address {W.CLIENT_TUNNEL_IP}, MTU {W.WG_MTU}, "
            f"Endpoint = {W.PAVE_LISTEN} (pave connect)")

        section(f"4. pave connect --vpn {VPN_IP}:{W.VPN_WG_PORT} --listen {W.PAVE_LISTEN}")
        pl.start_client(extra=["--listen", W.PAVE_LISTEN])
        seen, deadline = 0, time.monotonic() + 30
        while "path validated; connected via relay" not in pl.log("client"):
            seen = client_progress(pl, seen)
            check(pl.client.poll() is None, "pave connect exited:\n" + pl.log("client")[-2000:])
            check(time.monotonic() < deadline, "pave connect did not connect within 30 s:\n"
                  + pl.log("client")[-2000:])
            time.sleep(0.1)
        seen = client_progress(pl, seen)
        tun.point_client_at(W.PAVE_LISTEN)
        try:
            tun.wait_tunnel(20)
        except LabError as e:
            raise DemoFailed(f"no WireGuard handshake through the relay: {e}\n{pl.relay_sessions()}")
        client_progress(pl, seen)

        section("5. Traffic through the tunnel")
        p = W.ping(lab, "client", W.VPN_TUNNEL_IP, count=5, interval=0.2)
        check(p.received == p.sent, "ping through the tunnel lost packets:\n" + p.output)
        say(f"ping {W.VPN_TUNNEL_IP}: {p.received}/{p.sent} answered, average RTT {p.avg_ms:.2f} ms")
        try:
            r = W.tcp_transfer(lab, pl.tmp, TRANSFER_BYTES, timeout=90, stall_timeout=10)
        except LabError as e:
            big = lab.run("client", ["ping", "-n", "-q", "-c", "2", "-W", "1", "-M", "do", "-s", "1392",
                                     W.VPN_TUNNEL_IP], check=False)
            hint = ("" if big.returncode == 0 else
                    "full-size packets (1392 B of ping = the 1420-byte tunnel MTU) do not cross the relay; ")
            raise DemoFailed(f"TCP transfer through the tunnel failed ({str(e).splitlines()[-1]}); {hint}"
                             f"relay sessions:\n{pl.relay_sessions()}")
        check(r.ok, f"transfer corrupted: {r}")
        say(f"TCP {TRANSFER_BYTES >> 20} MB vpn -> client: {r.seconds:.2f} s ({r.mbit_s:.0f} Mbit/s), "
            f"SHA-256 identical at both ends ({r.received_sha256[:16]}...)")

        section("6. What each party saw")
        ep = tun.vpn_endpoint()
        from_client = lab.counter_value("vpn", CLIENT_PUBLIC)
        say("VPN server  (wg show endpoints)")
        say(f"  the user's key {tun.client_pub[:10]}... at {ep[0]}:{ep[1]}" if ep else "  no endpoint")
        say(f"  = the relay's NAT, not the user; packets from the user's IP {CLIENT_PUBLIC}: {from_client}"
            " (nftables counter)")
        check(ep and ep[0] == RELAY_PUBLIC, f"the VPN sees {ep}, not the relay's address {RELAY_PUBLIC}")
        check(from_client == 0, f"{from_client} packet(s) from the client's address reached the VPN")

        sessions = W.parse_sessions(pl.relay_sessions())
        check(sessions, "the relay lists no session")
        s = sessions[0]
        say("Relay  (pave shell -c sessions)")
        say(f"  client {s['peer']}  ->  VPN {s['vpn']}   state={s['state']}")
        say(f"  to VPN {s['wg_to_vpn_pkts']} packets / {s['wg_to_vpn_bytes'] / 1e6:.1f} MB, "
            f"to client {s['wg_to_client_pkts']} packets / {s['wg_to_client_bytes'] / 1e6:.1f} MB")
        say("  it forwards WireGuard ciphertext byte for byte: no key, no look inside; its log names no address:")
        for ln in pl.log("relay").splitlines():
            if "rendezvous accepted" in ln:
                say("  | " + ln.split("Z ", 1)[-1])
        check(s["peer"].startswith(CLIENT_PUBLIC), "the relay's session is not with the client")

        say("DHT storers  (pave shell -c 'dht export' on the boot node and the relay)")
        patterns = W.address_patterns([CLIENT_PRIVATE, CLIENT_PUBLIC], CLIENT_PORT)
        for host in ("boot", "relay"):
            keys = W.parse_dht_export(pl.shell(host, host, "dht export"))
            sizes = W.export_value_sizes(keys)
            desc = ", ".join(f"{n} x {size} B" for size, n in sizes.items())
            say(f"  {host:<5} stores {len(keys)} key(s); values: {desc}")
            hits = W.scan_exports(keys, patterns)
            check(not hits, f"{host} stores the client's address: {hits}")
        say("  512 B = the client's sealed rendezvous offer (HPKE, fixed size, no address in clear; the relay")
        say("  answers over UDP, sealed too); the others = the relay's signed presence records, an earlier")
        say("  one kept until it expires. None holds the client's IP in any encoding.")

        section("7. Teardown")
        lab.stop(pl.client)
    say("every process stopped by PID, namespaces deleted")


def main() -> int:
    print("PAVE demo: WireGuard through a random peer relay, on a namespace lab", flush=True)
    try:
        run()
    except DemoFailed as e:
        print(f"\nDEMO FAILED after {time.monotonic() - T0:.1f} s: {e}", file=sys.stderr, flush=True)
        return 1
    except (LabError, AssertionError) as e:
        print(f"\nDEMO FAILED after {time.monotonic() - T0:.1f} s (lab error): {e}", file=sys.stderr, flush=True)
        return 1
    print(f"\nDEMO OK in {time.monotonic() - T0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
