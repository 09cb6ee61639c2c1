"""The adversary PAVE exists for: a VPN provider that also runs DHT nodes (node ids are
self-chosen), in a namespace lab with real OpenDHT, real NATs and real PAVE processes.

Swarm: Debian's dhtnode and a PAVE boot node (public), 3 relays each behind its own NAT, 5
client hosts each behind its own NAT (one public IP per client host), a VPN address. The
adversary (`pave-dht-spy`, public) runs K = 24 OpenDHT nodes whose ids sit right next to PAVE's
keys: the inbox shard keys of the current period, the per-bucket inbox keys of the earlier
layout, one replica key of each directory bucket. It logs every keyed request any of its nodes
receives (source IP, op, key). In a swarm this small its nodes are among the closest to every
key, so it also stores and serves per-session keys it could not aim at in advance.

50 sessions: each client host runs `pave connect --no-relay` (the relays of the swarm are the 3
above, so that every relay's address is known to the analysis) 10 times in turn (a new process, DHT id and
keys each time) until the path to a relay is validated, then stops it.

What counts as a pairing, precisely. For a session s of client IP C through relay IP R, during
[t0, t1] (start of `pave connect` to its "connected" line), the adversary obtains (C, R) from
a key K when all of these hold:
  (a) it saw a request from C for K during [t0 - 2 s, t1 + 2 s] (the session's own DHT traffic);
  (b) it saw a request from R for K at any time of the run;
  (c) the relays it saw at K in the whole run are not all the relays of the directory, i.e. K
      narrows the relays C may have used down to a strict subset that contains R;
  (d) K is not a directory key: every client reads every bucket, so a client's read there
      says nothing about which relay it picks; that a relay's record sits in a bucket is
      what the public directory says anyway.
The test asserts that no session yields a pairing and prints what the adversary did get.
Against the layout with per-session answer keys (the client listened, the relay put) and
per-bucket inbox keys, the same analysis finds pairings for nearly every session.
"""

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from lab.netlab import Lab, wait_until
from lab.pave_lab import PaveLab
from lab.swarm import BUILD, pave_bin

BOOT_IP = "203.0.113.40"
DHTNODE_PORT = 4222
BOOT_PAVE_PORT = 4300
VPN = "203.0.113.30:51820"
SPY_IP = "203.0.113.50"
SPY_PORT = 5000
SPY_NODES = 24
RELAY_PORT = 4500
CLIENT_PORT = 4600
TTL_S = 60  # the relays' presence TTL, hence their inbox period
RELAYS = [("rel1", "natr1", "203.0.113.21", "10.21.0.0/24"),
          ("rel2", "natr2", "203.0.113.22", "10.22.0.0/24"),
          ("rel3", "natr3", "203.0.113.23", "10.23.0.0/24")]
CLIENTS = [(f"cli{i}", f"natc{i}", f"203.0.113.{10 + i}", f"10.{10 + i}.0.0/24") for i in range(1, 6)]
ROUNDS = 10
QUERY_OPS = {"get", "listen", "put", "refresh", "update", "find"}


def spy_bin():
    return os.environ.get("PAVE_DHT_SPY", str(BUILD / "pave-dht-spy"))


def directory_keys():
    """The directory's keys: 8 buckets x 8 replica keys (and the single bucket keys of the
    layout before replicas, so that older builds can be checked the same way)."""
    keys = {hashlib.sha1(f"pave/v1/relays/{b}/{r}".encode()).hexdigest() for b in range(8) for r in range(8)}
    return keys | {hashlib.sha1(f"pave/v1/relays/{b}".encode()).hexdigest() for b in range(8)}


def read_spy_log(path):
    entries = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[2] not in QUERY_OPS:
            continue
        t_ms, src, op, key = parts
        entries.append((int(t_ms) / 1000.0, src.rsplit(":", 1)[0], op, key))
    return entries


def pairings(entries, sessions, relay_ips, directory_keys):
    """[(session, key)] for every pairing as defined in the module docstring."""
    relays_at, seen_from = {}, {}
    for t, ip, op, key in entries:
        seen_from.setdefault(key, set()).add(ip)
        if ip in relay_ips:
            relays_at.setdefault(key, set()).add(ip)
    found = []
    for s in sessions:
        c, r, t0, t1 = s["client_ip"], s["relay_ip"], s["t0"], s["t1"]
        keys = {k for t, ip, op, k in entries if ip == c and t0 - 2 <= t <= t1 + 2}
        for k in keys - directory_keys:
            at = relays_at.get(k, set())
            if r in at and at != relay_ips:
                found.append((s, k))
    return found


def test_provider_with_dht_nodes_pairs_no_client_with_its_relay(tmp_path):
    with Lab() as lab:
        plab = PaveLab(lab)  # for its helpers only (temp dir, shell)
        lab.add_public_host("boot", BOOT_IP)
        lab.add_public_host("vpn", VPN.split(":")[0])
        lab.add_public_host("spy", SPY_IP)
        for name, router, wan, lan in RELAYS + CLIENTS:
            lab.add_natted_host(name, router, wan, lan, "cone")
        netid = plab.netid
        lab.spawn("boot", ["dhtnode", "-s", "-n", netid, "-p", DHTNODE_PORT], "dhtnode")
        plab.pave("boot", "--state-dir", plab.state("boot"), "identity", "create")
        lab.spawn("boot", [pave_bin(), "--state-dir", plab.state("boot"), "node", "--no-relay", "--bind", BOOT_IP,
                           "--port", BOOT_PAVE_PORT, "--bootstrap", f"{BOOT_IP}:{DHTNODE_PORT}",
                           "--network-id", netid], "pave-boot", stdout_path=tmp_path / "boot.log")
        plab.wait_shell("boot", "boot")
        spy_log = tmp_path / "spy.log"
        spy = lab.spawn("spy", [spy_bin(), "--network-id", netid, "--bootstrap", f"{BOOT_IP}:{DHTNODE_PORT}",
                                "--bind", SPY_IP, "--port", SPY_PORT, "--period-secs", TTL_S,
                                "--log", spy_log, "--nodes", SPY_NODES], "spy", stdout_path=tmp_path / "spy.out")

        relay_ip_of = {}  # relay node id -> public IP
        for name, router, wan, lan in RELAYS:
            plab.pave(name, "--state-dir", plab.state(name), "identity", "create")
            rid = plab.pave(name, "--state-dir", plab.state(name), "identity", "show").stdout.split()[1]
            relay_ip_of[rid] = wan
            lab.spawn(name, [pave_bin(), "--state-dir", plab.state(name), "node", "--bind", lab.hosts[name].ip,
                             "--port", RELAY_PORT, "--presence-ttl", f"{TTL_S}s", "--stun", f"{BOOT_IP}:{BOOT_PAVE_PORT}",
                             "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}", "--network-id", netid],
                      f"pave-{name}", stdout_path=tmp_path / f"{name}.log")
        for name, router, wan, lan in RELAYS:
            plab.wait_shell(name, name)
        t_relays = time.time()
        # Every relay knows its public address and is in the directory the boot node reads.
        assert wait_until(lambda: all(plab.public_address(n, n) for n, *_ in RELAYS), timeout=30)
        assert wait_until(lambda: set(relay_ip_of) <= plab.relay_ids("boot", "boot"), timeout=40), \
            plab.relay_ids("boot", "boot")
        relay_ips = set(relay_ip_of.values())
        print(f"relays public and listed {time.time() - t_relays:.1f} s after they answered their shells")

        sessions = []
        for rnd in range(ROUNDS):
            running = []
            for name, router, wan, lan in CLIENTS:
                log = tmp_path / f"{name}-{rnd}.log"
                proc = lab.spawn(name, [pave_bin(), "--state-dir", plab.state(f"{name}-{rnd}"), "connect", "--vpn", VPN,
                                        "--bind", lab.hosts[name].ip, "--port", CLIENT_PORT, "--timeout", "20s",
                                        "--stun", f"{BOOT_IP}:{BOOT_PAVE_PORT}", "--no-relay",
                                        "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}", "--network-id", netid],
                                 f"pave-{name}", stdout_path=log)
                running.append((name, wan, proc, log, time.time()))
            for name, wan, proc, log, t0 in running:
                pat = re.compile(r"path validated; connected via relay ([0-9a-f]{16})")
                m = wait_until(lambda: pat.search(log.read_text(errors="replace")) if log.exists() else None,
                               timeout=25, what=f"{name} round {rnd} connected")
                t1 = time.time()
                rid = next(r for r in relay_ip_of if r.startswith(m.group(1)))
                sessions.append({"client_ip": wan, "relay_ip": relay_ip_of[rid], "t0": t0, "t1": t1})
            if rnd == ROUNDS - 1:
                time.sleep(3)  # the last round's clients run a while connected, as clients do
            for name, wan, proc, log, t0 in running:
                lab.stop(proc)
        time.sleep(2)  # requests in flight reach the spy's log
        lab.stop(spy)

        entries = read_spy_log(spy_log)
        directory = directory_keys()
        found = pairings(entries, sessions, relay_ips, directory)
        client_ips = {s["client_ip"] for s in sessions}
        keys = {k for *_, k in entries}
        clients_seen = {ip for _, ip, _, _ in entries if ip in client_ips}
        relays_seen = {ip for _, ip, _, _ in entries if ip in relay_ips}
        ops = {}
        for _, ip, op, k in entries:
            who = "client" if ip in client_ips else "relay" if ip in relay_ips else "other"
            ops[(who, op)] = ops.get((who, op), 0) + 1
        client_keys = {k for _, ip, _, k in entries if ip in client_ips}
        print(f"adversary: {SPY_NODES} DHT nodes; {len(entries)} keyed requests on {len(keys)} keys; "
              f"client IPs seen {len(clients_seen)}/{len(client_ips)}, relay IPs seen {len(relays_seen)}/{len(relay_ips)}")
        print(f"keys clients sent requests for: {len(client_keys)} ({len(client_keys & directory)} directory "
              f"keys); requests by party and op: {dict(sorted(ops.items()))}")
        print(f"sessions: {len(sessions)}, relays used: {sorted({s['relay_ip'] for s in sessions})}; "
              f"pairings (client IP, relay IP) from one key: {len(found)} in "
              f"{len({id(s) for s, _ in found})} session(s)")
        for s, k in found[:5]:
            print(f"  pairing: client {s['client_ip']} relay {s['relay_ip']} at key {k}")
        # `pave connect` reads the directory with short gets: a listen would show storers next to
        # a directory key every user's address for as long as it runs.
        client_dir_listens = [k for _, ip, op, k in entries if ip in client_ips and op == "listen" and k in directory]
        print(f"listen requests from clients on directory keys: {len(client_dir_listens)}")
        assert len(sessions) == ROUNDS * len(CLIENTS)
        assert not client_dir_listens, "pave connect listened on directory keys"
        assert len(entries) > 0 and clients_seen, "the adversary saw nothing: the test would prove nothing"
        assert not found
