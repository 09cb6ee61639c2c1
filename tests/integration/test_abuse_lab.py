"""Abuse from spoofed addresses: no input an unauthenticated sender can make on a PAVE node's
public port turns the node into an amplifier (RFC 9000 §8: at most 3x toward an address that
has not proven it receives there).

Lab (all public, on the lab's internet bridge): `boot` runs Debian's dhtnode and a PAVE node,
`target` runs a PAVE relay, `attacker` forges datagrams from `victim`'s address (raw socket),
and `victim` counts every byte that reaches it (nftables counters, then drops). A key on the
swarm holds 200 values of 500 bytes, the worst case for a DHT `get`. For each input type the
test prints bytes that reached the victim / bytes the attacker sent, for the PAVE relay and,
as the baseline the issue measured, for Debian's dhtnode on the same swarm."""

import hashlib
import os
import random
import subprocess
import time

import pytest

from lab.netlab import Lab, wait_until
from lab.pave_lab import PaveLab
from lab.spoof import dht_request, mp
from lab.swarm import dht_tool_bin, pave_bin

BOOT = "203.0.113.40"
TARGET = "203.0.113.50"
ATTACKER = "203.0.113.66"
VICTIM = "203.0.113.77"
DHTNODE_PORT = 4222
BOOT_PORT = 4300
TARGET_PORT = 4500
VICTIM_PORT = 7777
REPEAT = 10


UDP_IP_HEADERS = 28  # IPv4 + UDP header bytes in every datagram of this lab


def counter_bytes(lab, src):
    """UDP payload bytes that reached the victim from `src` (the budget of RFC 9000 §8 counts
    payloads; the nftables counter counts whole IP packets)."""
    out = lab.run("victim", ["nft", "list", "counter", "inet", "victim", "from_" + src.replace(".", "_")]).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("packets"):
            f = line.split()
            return int(f[3]) - UDP_IP_HEADERS * int(f[1])
    raise AssertionError(out)


def inputs(netid, key):
    """(name, payload) for every kind of datagram an unauthenticated sender can make."""
    me = os.urandom(20)
    tok = os.urandom(32)
    val = {"id": 1, "dat": os.urandom(100)}
    reqs = {
        "dht ping": dht_request("ping", {"id": me}, 11, netid),
        "dht find": dht_request("find", {"id": me, "target": key, "w": [2]}, 12, netid),
        "dht get (200 values)": dht_request("get", {"id": me, "h": key, "w": [2]}, 13, netid),
        "dht listen": dht_request("listen", {"id": me, "h": key, "token": tok, "sid": 5}, 14, netid),
        "dht put": dht_request("put", {"id": me, "h": key, "token": tok, "values": [val]}, 15, netid),
        "dht refresh": dht_request("refresh", {"id": me, "h": key, "token": tok, "vid": 1}, 16, netid),
        "dht update": dht_request("update", {"id": me, "h": key, "token": tok, "values": [val]}, 17, netid),
        "dht reply (unsolicited)": mp({"r": {"id": me}, "t": 18, "y": "r", "v": "RNG1", "n": netid}),
    }
    stun = bytes.fromhex("00010000" + "2112a442") + os.urandom(12)
    out = list(reqs.items())
    out += [
        ("stun binding request", stun),
        ("address check challenge", bytes([0x51, 1]) + os.urandom(16) + bytes(30)),
        ("address check response (forged)", bytes([0x51, 2]) + os.urandom(32) + bytes(14)),
        ("control frame (forged)", bytes([0x50]) + os.urandom(80)),
        ("wireguard initiation", bytes([1, 0, 0, 0]) + os.urandom(144)),
        ("wireguard response", bytes([2, 0, 0, 0]) + os.urandom(88)),
        ("wireguard cookie reply", bytes([3, 0, 0, 0]) + os.urandom(60)),
        ("wireguard data", bytes([4, 0, 0, 0]) + os.urandom(124)),
        ("garbage", os.urandom(200)),
    ]
    return out


@pytest.fixture
def alab():
    with Lab() as lab:
        for name, ip in (("boot", BOOT), ("target", TARGET), ("attack", ATTACKER), ("victim", VICTIM)):
            lab.add_public_host(name, ip)
        # The victim counts what reaches it from each node, then drops it (no ICMP back).
        rules = ["add table inet victim"]
        for src in (TARGET, BOOT):
            rules.append(f"add counter inet victim from_{src.replace('.', '_')}")
        rules.append("add chain inet victim input { type filter hook input priority 0; policy accept; }")
        for src in (TARGET, BOOT):
            rules.append(f"add rule inet victim input ip saddr {src} meta l4proto udp counter name from_{src.replace('.', '_')} drop")
        lab.run("victim", ["nft", "-f", "-"], input="\n".join(rules) + "\n")
        p = PaveLab(lab)
        lab.spawn("boot", ["dhtnode", "-s", "-n", p.netid, "-p", DHTNODE_PORT], "dhtnode",
                  stdout_path=p.tmp / "dhtnode.log")
        p.pave("boot", "--state-dir", p.state("boot"), "identity", "create")
        lab.spawn("boot", [pave_bin(), "--state-dir", p.state("boot"), "node", "--no-relay", "--bind", BOOT,
                           "--port", BOOT_PORT, "--bootstrap", f"{BOOT}:{DHTNODE_PORT}", "--network-id", p.netid],
                  "pave-boot", stdout_path=p.tmp / "boot.log")
        p.wait_shell("boot", "boot")
        p.pave("target", "--state-dir", p.state("target"), "identity", "create")
        lab.spawn("target", [pave_bin(), "--state-dir", p.state("target"), "node", "--bind", TARGET,
                             "--port", TARGET_PORT, "--bootstrap", f"{BOOT}:{BOOT_PORT}", "--network-id", p.netid],
                  "pave-target", stdout_path=p.tmp / "target.log")
        p.wait_shell("target", "target")
        assert wait_until(lambda: "dht connected" in p.shell("target", "target", "status"), timeout=20)
        yield lab, p


def test_spoofed_inputs_are_not_amplified(alab):
    lab, p = alab
    key_hex = hashlib.sha1(b"abuse-test-key").hexdigest()
    key = bytes.fromhex(key_hex)
    # 200 values of 500 bytes on the key; in a swarm this small every node stores it.
    lab.run("attack", [dht_tool_bin(), "--network-id", p.netid, "--bootstrap", f"{TARGET}:{TARGET_PORT}",
                         "flood-key", key_hex, "200", "500"], timeout=120)
    assert wait_until(lambda: p.shell("target", "target", f"dht get {key_hex}").startswith("# 200 value"),
                      timeout=30), p.shell("target", "target", f"dht get {key_hex}")[:200]
    time.sleep(1)
    rows = []
    worst = 0.0
    for name, payload in inputs(p.netid, key):
        for dst, port, label in ((TARGET, TARGET_PORT, "pave"), (BOOT, DHTNODE_PORT, "dhtnode")):
            if label == "dhtnode" and not name.startswith("dht"):
                continue
            before = counter_bytes(lab, dst)
            # a fresh spoofed source port per input: each starts with no budget
            sport = random.randint(20000, 60000)
            sent = spoof(lab, sport, dst, port, payload)
            time.sleep(1.5)  # late answers (held replies time out after 3 s: they must not arrive)
            got = counter_bytes(lab, dst) - before
            ratio = got / sent
            rows.append((name, label, sent, got, ratio))
            if label == "pave":
                worst = max(worst, ratio)
    # Sealed offers naming the victim as every candidate (anyone can seal one to a relay's
    # inbox key): the relay's probes to the candidates. The attacker pays at least the 512-byte
    # value of each offer (plus the DHT put around it, not counted here).
    relay_id = p.pave("target", "--state-dir", p.state("target"), "identity", "show").stdout.split()[1]
    before = counter_bytes(lab, TARGET)
    cands = [f"{VICTIM}:{VICTIM_PORT + i}" for i in range(8)]
    out = lab.run("attack", [dht_tool_bin(), "--network-id", p.netid, "--bootstrap", f"{BOOT}:{BOOT_PORT}",
                             "offers", relay_id[:16], "5", "4", "203.0.113.30:51820", *cands], timeout=60).stdout
    offers = int(out.split("offers")[-1].split()[0])
    assert offers >= 10, out
    time.sleep(5)
    got = counter_bytes(lab, TARGET) - before
    rows.append(("sealed offer, 8 victim candidates", "pave", offers * 512, got, got / (offers * 512)))
    # whatever was held must never arrive later
    time.sleep(3.5)
    print("\n%-34s %-8s %10s %12s %8s" % ("input (x%d, spoofed)" % REPEAT, "node", "sent B", "to victim B", "ratio"))
    for name, label, sent, got, ratio in rows:
        print("%-34s %-8s %10d %12d %8.2f" % (name, label, sent, got, ratio))
    stats = p.shell("target", "target", "stats")
    print("\n".join(l for l in stats.splitlines() if "guard_" in l))
    total_sent = sum(r[2] for r in rows if r[1] == "pave")
    total_got = sum(r[3] for r in rows if r[1] == "pave")
    print("%-34s %-8s %10d %12d %8.2f" % ("all inputs together", "pave", total_sent, total_got,
                                          total_got / total_sent))
    for name, label, sent, got, ratio in rows:
        if label == "pave":
            assert ratio <= 3.0, (name, sent, got)
    assert worst <= 3.0 and total_got <= 3 * total_sent
    assert p.shell("target", "target", "status")  # the node is alive and answering


def spoof(lab, sport, dst, port, payload):
    env = {"PYTHONPATH": str(os.path.join(os.path.dirname(__file__), ".."))}
    out = lab.run("attack", ["env", f"PYTHONPATH={env['PYTHONPATH']}", "/usr/bin/python3", "-m", "lab.spoof",
                               VICTIM, sport, dst, port, REPEAT, "0.02", payload.hex()], timeout=60)
    return int(out.stdout.strip())
