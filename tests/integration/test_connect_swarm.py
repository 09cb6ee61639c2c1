"""`pave connect` against loopback swarms with relays that cannot serve.

1. One relay full (--capacity 0), two gone without a word (SIGKILL: their presence records live
   on until they expire), one that works: the client asks several at once and ends connected to
   the one that works, within its --timeout.
2. 300 free Sybil records (valid signatures, fresh keys, nobody behind them) and 2 real relays:
   the client still connects within the default --timeout (20 s), and prints how long it took.

Loopback swarms need --lan-candidates (loopback and private candidates are refused without it)
and --allow-private-endpoints (the VPN endpoint is on loopback)."""

import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from lab.swarm import Swarm, free_udp_port, pave_bin

RELAY_FLAGS = ["--presence-ttl", "60s", "--allow-private-endpoints"]  # the swarm adds --lan-candidates


def start_client(s, boot, name, timeout="20s", extra=()):
    state = os.path.join(s.tmp, name)
    log_path = os.path.join(s.tmp, name + ".log")
    with open(log_path, "w") as log:
        client = subprocess.Popen([pave_bin(), "--state-dir", state, "connect", "--vpn", "127.0.0.2:9",
                                   "--listen", f"127.0.0.1:{free_udp_port()}", "--bind", "127.0.0.1",
                                   "--network-id", str(s.network_id), "--bootstrap", boot, "--timeout", timeout,
                                   "--lan-candidates", *extra],
                                  stdout=log, stderr=subprocess.STDOUT)
    s.procs.append(client)
    return client, state, log_path


def wait_connected(client, log_path, limit):
    t0 = time.monotonic()
    text = ""
    while time.monotonic() - t0 < limit and client.poll() is None:
        text = open(log_path).read()
        if "path validated; connected via relay" in text:
            break
        time.sleep(0.1)
    return time.monotonic() - t0, open(log_path).read()


def client_sessions(state):
    return subprocess.run([pave_bin(), "--state-dir", state, "shell", "--connect", "-c", "sessions"],
                          capture_output=True, text=True, timeout=10).stdout


def test_client_moves_on_from_full_and_dead_relays():
    with Swarm() as s:
        boot = s.start_dhtnode()
        relays = {}
        for name, extra in (("full", ["--capacity", "0"]), ("dead1", []), ("dead2", []), ("good", [])):
            n = s.add_node(boot, [*RELAY_FLAGS, *extra], name=name)
            s.wait_ready(n)
            relays[name] = n
        ids = {n.node_id for n in relays.values()}
        watcher = relays["good"]
        deadline = time.time() + 30
        while time.time() < deadline and watcher.relays() != ids - {watcher.node_id}:
            time.sleep(0.5)
        for name in ("dead1", "dead2"):
            relays[name].stop(sig=signal.SIGKILL)
        client, state, log_path = start_client(s, boot, "client", timeout="40s")
        took, text = wait_connected(client, log_path, 45)
        good = relays["good"].node_id[:16]
        assert f"connected via relay {good}" in text, (client.poll(), text)
        print(f"connected {took:.1f} s after start")
        # A full relay that answered before the good one says so, and the client asks others.
        full = relays["full"].node_id[:16]
        picked = [l.split("picked relay ")[1].split()[0] for l in text.splitlines()
                  if l.startswith("pave connect: picked relay")]
        # Progress lines name the first few relays asked (kVerboseAsks), none twice.
        assert len(set(picked)) == len(picked), picked
        print("relays asked in order:", picked)
        for line in text.splitlines():
            if line.startswith(f"pave connect: relay {full} refused"):
                assert "relay at capacity; asking others" in line, line
        assert "failed at step" not in text, text
        assert client.poll() is None
        out = client_sessions(state)
        assert "state=established" in out, out
        assert re.search(r"answers_no_usable_candidate=0\b", out), out


@pytest.mark.release_only  # scale; the same paths run with few records
def test_client_connects_through_300_sybil_records():
    with Swarm() as s:
        boot = s.start_dhtnode()
        real = [s.add_node(boot, RELAY_FLAGS, name=f"real{i}") for i in range(2)]
        for n in real:
            s.wait_ready(n)
        deadline = time.time() + 30
        while time.time() < deadline and real[0].relays() != {real[1].node_id}:
            time.sleep(0.5)
        assert real[0].relays() == {real[1].node_id}
        assert "published 300" in s.dht_tool("fake-relays", "300")
        # Wait until the watcher's directory stops growing (the DHT may not deliver every value).
        listed, stable_since = 0, time.time()
        deadline = time.time() + 30
        while time.time() < deadline and time.time() - stable_since < 4:
            n = len(real[0].relays())
            if n != listed:
                listed, stable_since = n, time.time()
            time.sleep(0.5)
        assert listed >= 150, listed  # the directory holds the Sybil records too

        client, state, log_path = start_client(s, boot, "client")  # the default --timeout, 20 s
        took, text = wait_connected(client, log_path, 25)
        real_ids = {n.node_id[:16] for n in real}
        m = re.search(r"connected via relay (\w+)", text)
        assert m and m.group(1) in real_ids, (client.poll(), text[-3000:])
        print(f"300 Sybil records + 2 real relays: connected {took:.1f} s after start")
        for line in text.splitlines():
            if "answer received" in line or "path validated" in line or "still looking" in line:
                print("   ", line)
        out = client_sessions(state)
        assert "state=established" in out, out
        asked = int(re.search(r"relays_asked=(\d+)", out).group(1))
        print(f"    relays asked before one accepted: {asked}; relays in a real relay's directory: {listed}")
        assert client.poll() is None


def test_guards_are_kept_in_the_state_dir_across_runs():
    """--min-relay-age 0s: the relays seen are eligible at once. The client's guards (all of the 3
    relays here) are written to the state dir's `guards` file, and a second run of `pave connect`
    with the same state dir starts from them and connects through one of them."""
    with Swarm() as s:
        boot = s.start_dhtnode()
        relays = [s.add_node(boot, RELAY_FLAGS, name=f"r{i}") for i in range(3)]
        for n in relays:
            s.wait_ready(n)
        ids = {n.node_id for n in relays}
        deadline = time.time() + 30
        while time.time() < deadline and relays[0].relays() != ids - {relays[0].node_id}:
            time.sleep(0.5)
        guard_file = os.path.join(s.tmp, "client", "guards")
        guards_seen = []
        for run in range(2):
            client, state, log_path = start_client(s, boot, "client", extra=["--min-relay-age", "0s"])
            took, text = wait_connected(client, log_path, 25)
            m = re.search(r"connected via relay (\w+)", text)
            assert m, text[-3000:]
            # Written within 10 s of a change, and when the client stops.
            client.terminate()
            client.wait(10)
            lines = open(guard_file).read().splitlines()
            assert lines[0] == "pave-guards 1", lines[:3]
            # The file names node keys; node ids are SHA-256("pave/v1/node-id" + key), first 20 bytes.
            guards = [hashlib.sha256(b"pave/v1/node-id" + bytes.fromhex(l.split()[1])).hexdigest()[:40]
                      for l in lines if l.startswith("guard ")]
            assert len(guards) == 3 and set(guards) == ids, (guards, ids)
            assert m.group(1) in {g[:16] for g in guards}
            assert oct(os.stat(guard_file).st_mode & 0o777) == "0o600"
            guards_seen.append(guards)
            print(f"run {run + 1}: connected via guard {m.group(1)} in {took:.1f} s; guards {[g[:8] for g in guards]}")
        assert guards_seen[0] == guards_seen[1]  # the second run kept the first run's guards
