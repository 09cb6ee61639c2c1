"""`pave` as a user meets it: identity, bad input, the control socket and shell, IPv6.
Each bad input gives a clear one-line message and, where it cannot go on, a non-zero exit;
never a crash or a hang. Everything runs on loopback."""

import os
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from lab.swarm import Swarm, free_udp_port, pave_bin


def pave(*args, timeout=20, **kw):
    return subprocess.run([pave_bin(), *args], capture_output=True, text=True, timeout=timeout, **kw)


def one_error_line(r):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("pave: error:") or " ERROR " in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def state():
    with tempfile.TemporaryDirectory(prefix="pave-cli-") as d:
        yield os.path.join(d, "state")


def test_identity_create_show_and_never_overwrite(state):
    r = pave("--state-dir", state, "identity", "create")
    assert r.returncode == 0, r.stderr
    node_id = r.stdout.split("id ")[1].split()[0]
    assert len(node_id) == 40 and int(node_id, 16) >= 0
    key = os.path.join(state, "node.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    before = open(key, "rb").read()
    show = pave("--state-dir", state, "identity", "show")
    assert show.returncode == 0 and f"id {node_id}" in show.stdout
    again = pave("--state-dir", state, "identity", "create")
    assert again.returncode != 0
    assert "refusing to overwrite" in one_error_line(again)
    assert open(key, "rb").read() == before
    forced = pave("--state-dir", state, "identity", "create", "--force")
    assert forced.returncode == 0 and open(key, "rb").read() != before
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


@pytest.mark.parametrize("damage,expect", [
    ("truncate", "truncated"),
    ("flip", "corrupt"),
    ("mode", "chmod 600"),
    ("empty", "truncated"),
])
def test_bad_key_file_gives_one_clear_line(state, damage, expect):
    assert pave("--state-dir", state, "identity", "create").returncode == 0
    key = os.path.join(state, "node.key")
    data = open(key, "rb").read()
    if damage == "truncate":
        open(key, "wb").write(data[:50])
    elif damage == "flip":
        open(key, "wb").write(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    elif damage == "mode":
        os.chmod(key, 0o644)
    elif damage == "empty":
        open(key, "wb").close()
    for cmd in (["identity", "show"], ["node", "--network-id", "5", "--bind", "127.0.0.1"]):
        r = pave("--state-dir", state, *cmd, timeout=10)
        assert r.returncode != 0
        line = one_error_line(r)
        assert expect in line.lower(), line


def test_missing_identity_and_unknown_flags(state):
    r = pave("--state-dir", state, "node", "--network-id", "5", "--bind", "127.0.0.1", timeout=10)
    assert r.returncode != 0 and "identity create" in one_error_line(r)
    for args in (["node", "--bogus"], ["--nope"], ["connect"], ["node", "--port", "notaport"],
                 ["node", "--presence-ttl", "5x"], ["shell", "--what"]):
        r = pave("--state-dir", state, *args)
        assert r.returncode == 2, (args, r.stderr)
        one_error_line(r)


def test_unwritable_state_dir(state):
    # root writes anywhere, so make a read-only file system in a private mount namespace
    ro = os.path.dirname(state)
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        f"mount -t tmpfs -o ro none {ro} && exec {pave_bin()} --state-dir {ro}/pave identity create"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "cannot create state directory" in one_error_line(r)


def test_port_in_use(state):
    assert pave("--state-dir", state, "identity", "create").returncode == 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        r = pave("--state-dir", state, "node", "--bind", "127.0.0.1", "--port", str(port), "--network-id", "5",
                 timeout=10)
        assert r.returncode != 0
        line = one_error_line(r)
        assert f"127.0.0.1:{port}" in line and "in use" in line, line
    finally:
        s.close()


def test_unreachable_bootstrap_keeps_retrying_and_says_disconnected(state):
    assert pave("--state-dir", state, "identity", "create").returncode == 0
    dead = free_udp_port()  # nobody listens there
    log = open(os.path.join(os.path.dirname(state), "node.log"), "w")
    p = subprocess.Popen([pave_bin(), "--state-dir", state, "node", "--bind", "127.0.0.1", "--network-id", "5",
                          "--bootstrap", f"127.0.0.1:{dead}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(12)
        assert p.poll() is None, "the node must keep running"
        st = pave("--state-dir", state, "shell", "-c", "status")
        assert st.returncode == 0
        assert "dht disconnected" in st.stdout, st.stdout
        assert "retrying" in open(log.name).read()
        # a second node on the same state dir is refused, the first keeps running
        r = pave("--state-dir", state, "node", "--bind", "127.0.0.1", "--network-id", "5", timeout=10)
        assert r.returncode != 0 and "already running" in one_error_line(r)
        assert p.poll() is None
        sock = os.path.join(state, "node.sock")
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    finally:
        p.terminate()
        assert p.wait(10) == 0, "clean exit on SIGTERM"
    assert not os.path.exists(os.path.join(state, "node.sock"))


def test_shell_commands_and_dht_put_get_across_nodes():
    with Swarm() as s:
        boot = s.start_dhtnode()
        a = s.add_node(boot, ["--no-relay"])
        b = s.add_node(boot, ["--no-relay"])
        s.wait_ready(a)
        s.wait_ready(b)
        stats = a.stats()
        assert stats["udp4_rx_dht"] > 0 and stats["udp4_send_errors"] == 0, stats
        helptext = a.shell("help")
        for c in ("status", "relays", "dht get", "dht put", "sessions", "quit"):
            assert c in helptext
        assert a.shell("dht put pave-test-key hello-from-a").strip() == "ok"
        hexval = "hello-from-a".encode().hex()
        deadline = time.time() + 15
        while time.time() < deadline and hexval not in b.shell("dht get pave-test-key"):
            time.sleep(0.5)
        assert hexval in b.shell("dht get pave-test-key")
        r = subprocess.run([pave_bin(), "--state-dir", a.state_dir, "shell", "-c", "frobnicate"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "unknown command" in r.stdout
        # the interactive shell, driven through a pipe: one command, then quit
        r = subprocess.run([pave_bin(), "--state-dir", a.state_dir, "shell"], input="status\nquit\n",
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and f"id {a.node_id}" in r.stdout
        # nodes log no peer address by default
        for n in (a, b):
            assert "127.0.0.1:" not in n.log().replace(f"127.0.0.1:{n.port}", ""), n.log()[-2000:]


def test_ipv6_swarm():
    """Three relays on ::1 only: the directory works over IPv6."""
    with Swarm() as s:
        ids, nodes = [], []
        for i in range(3):
            state = os.path.join(s.tmp, f"v6n{i}")
            r = pave("--state-dir", state, "identity", "create")
            ids.append(r.stdout.split("id ")[1].split()[0])
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as t:
                t.bind(("::1", 0))
                port = t.getsockname()[1]
            args = [pave_bin(), "--state-dir", state, "node", "--bind", "::1", "--port", str(port), "--network-id",
                    str(s.network_id), "--presence-ttl", "30s"]
            if nodes:
                args += ["--bootstrap", f"[::1]:{nodes[0][1]}"]
            s._spawn(args, f"v6n{i}.log")
            nodes.append((state, port))

        def listed(state):
            out = pave("--state-dir", state, "shell", "-c", "relays").stdout
            return {l.split()[0] for l in out.splitlines() if l and not l.startswith("#")}

        def complete():
            return all(listed(st) == set(ids) - {ids[i]} for i, (st, _) in enumerate(nodes))
        deadline = time.time() + 30
        while time.time() < deadline and not complete():
            time.sleep(0.5)
        for i, (st, port) in enumerate(nodes):
            assert listed(st) == set(ids) - {ids[i]}
            status = pave("--state-dir", st, "shell", "-c", "status").stdout
            assert f"bound [::1]:{port}" in status and "ipv6=connected" in status, status
