"""`pave` as a user meets it: identity, bad input, the control socket and shell, IPv6.
Each bad input gives a clear one-line message and, where it cannot go on, a non-zero exit;
never a crash or a hang. Everything runs on loopback."""

import os
import re
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


@pytest.mark.release_only  # timers; no code path of its own
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


def project_version():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    text = open(os.path.join(root, "meson.build")).read()
    return re.search(r"version:\s*'([^']+)'", text).group(1)


def test_version():
    r = pave("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"pave {project_version()}", r.stdout


@pytest.mark.parametrize("args,expect", [
    (["conect"], "unknown command 'conect', did you mean 'connect'?"),
    (["nod", "--port", "1"], "did you mean 'node'?"),
    (["--log-level", "debug", "idenity", "show"], "unknown command 'idenity', did you mean 'identity'?"),
    (["identity", "shw"], "unknown command 'shw' for 'pave identity', did you mean 'show'?"),
    (["frobnicate"], "unknown command 'frobnicate' (see pave --help)"),
    ([], "'pave' needs a command: identity, node, connect"),
    (["identity"], "'pave identity' needs a command: create, show"),
])
def test_unknown_or_missing_command_suggests(state, args, expect):
    r = pave("--state-dir", state, *args)
    assert r.returncode == 2, r.stderr
    assert expect in one_error_line(r)
    assert not os.path.exists(state), "nothing is created on a usage error"


def test_help_has_defaults_and_examples():
    top = pave("--help")
    assert top.returncode == 0
    assert "Usage: pave " in top.stdout
    assert "Examples:" in top.stdout and "pave connect --vpn" in top.stdout
    assert "2 usage error" in top.stdout
    for sub, defaults in (("connect", ["127.0.0.1:51821", "default: 20s", "port 4222 if left out"]),
                          ("node", ["default: 10m", "--capacity UINT=64", "default: 0, any free port"])):
        r = pave(sub, "--help")
        assert r.returncode == 0
        assert "Examples:" in r.stdout, r.stdout
        for d in defaults:
            assert d in r.stdout, (sub, d, r.stdout)


@pytest.mark.parametrize("args,expect", [
    (["connect", "--vpn", "192.0.2.1"], "invalid --vpn '192.0.2.1': no port"),
    (["connect", "--vpn", "2001:db8::1:51820"], "must be in brackets"),
    (["connect", "--vpn", "vpn.example.net:0"], "invalid --vpn"),
    (["connect", "--vpn", "vpn.example.net:51820", "--listen", "localhost:51821"], "invalid --listen 'localhost:51821'"),
    (["connect", "--vpn", "vpn.example.net:51820", "--listen", "127.0.0.1:0"], "invalid --listen"),
    (["connect", "--vpn", "vpn.example.net:51820", "--bootstrap", "192.0.2.1:70000"], "invalid --bootstrap '192.0.2.1:70000'"),
    (["node", "--bootstrap", "bad host"], "invalid --bootstrap 'bad host'"),
    (["node", "--stun", "stun.example.net"], "invalid --stun"),
])
def test_local_checks_before_anything_starts(state, args, expect):
    """Usage errors are found before the DHT starts (and before any name is resolved): exit 2,
    one line, at once, and no state is created."""
    t = time.time()
    r = pave("--state-dir", state, *args)
    assert r.returncode == 2, r.stderr
    assert expect in one_error_line(r)
    assert time.time() - t < 5
    assert not os.path.exists(state)


def test_bootstrap_without_port_means_4222(state):
    """`--bootstrap HOST` reaches HOST:4222 (OpenDHT's default). The first node listens on
    4222 on its own loopback address, so the test does not take the host's port 4222."""
    import random
    ip = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    a_state, b_state = state + "-a", state + "-b"
    for st in (a_state, b_state):
        assert pave("--state-dir", st, "identity", "create").returncode == 0
    net = str(random.randint(1000, 60000))
    logs = [open(f"{st}.log", "w") for st in (a_state, b_state)]
    a = subprocess.Popen([pave_bin(), "--state-dir", a_state, "node", "--bind", ip, "--port", "4222", "--network-id", net],
                         stdout=logs[0], stderr=subprocess.STDOUT)
    b = None
    try:
        time.sleep(0.5)
        assert a.poll() is None, open(logs[0].name).read()
        b = subprocess.Popen([pave_bin(), "--state-dir", b_state, "node", "--bind", "127.0.0.1", "--network-id", net,
                              "--bootstrap", ip], stdout=logs[1], stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        out = ""
        while time.time() < deadline:
            out = pave("--state-dir", b_state, "shell", "-c", "status").stdout
            if "dht connected" in out:
                break
            time.sleep(0.5)
        assert "dht connected" in out, out + open(logs[1].name).read()
    finally:
        for p in (b, a):
            if p:
                p.terminate()
                p.wait(10)


@pytest.mark.release_only  # timers; no code path of its own
def test_unreachable_bootstrap_one_warning_with_backoff(state):
    """An unreachable bootstrap gives one actionable warning per retry, the retries back off
    (5 s, 10 s, 20 s, ...), the address the user gave is shown as given, and OpenDHT's own lines
    do not repeat it at WARN."""
    assert pave("--state-dir", state, "identity", "create").returncode == 0
    dead = free_udp_port()
    log = open(os.path.join(os.path.dirname(state), "node.log"), "w")
    p = subprocess.Popen([pave_bin(), "--state-dir", state, "node", "--bind", "127.0.0.1", "--network-id", "5",
                          "--bootstrap", f"127.0.0.1:{dead}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and " WARN " not in open(log.name).read():
            time.sleep(0.5)
        time.sleep(3)
        text = open(log.name).read()
    finally:
        p.terminate()
        assert p.wait(10) == 0
    warns = [l for l in text.splitlines() if " WARN " in l]
    expected = f"bootstrap 127.0.0.1:{dead} unreachable (retrying in 20 s): check the address or your network"
    assert len(warns) == 1, text
    assert expected in warns[0], text
    retries = [l for l in text.splitlines() if "retrying" in l]
    assert len(retries) == 2, text  # at 5 s (info) and 15 s (the warning); the next is due at 35 s
    assert "next retry in 10 s" in retries[0], text


def test_state_directory_from_systemd(state):
    """Under systemd's StateDirectory= the default state dir is $STATE_DIRECTORY (the first of
    several); --state-dir still wins."""
    os.makedirs(state, mode=0o700)
    other = state + "-other"
    env = dict(os.environ, STATE_DIRECTORY=f"{state}:{other}")
    env.pop("XDG_STATE_HOME", None)
    r = pave("identity", "create", env=env)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(state, "node.key"))
    assert not os.path.exists(other)
    r = pave("--state-dir", other, "identity", "create", env=env)
    assert r.returncode == 0 and os.path.exists(os.path.join(other, "node.key"))
    assert "$STATE_DIRECTORY" in pave("--help", env=env).stdout


def test_bash_completion_completes_commands_and_options():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(root, "node", "dist", "pave.bash-completion")

    def complete(*words):
        words = ["pave", *words]
        cmd = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
               f"COMP_CWORD={len(words) - 1}; _pave; echo \"${{COMPREPLY[@]}}\"")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert complete("con") == ["connect"]
    assert complete("identity", "") == ["create", "show"]
    assert "--vpn" in complete("connect", "--v")
    assert complete("--log-level", "de") == ["debug"]
    assert "--no-relay" in complete("--state-dir", "/tmp/x", "node", "--no")
    assert complete("wg", "") == ["up", "down", "attach", "detach"]
    assert "--run-hooks" in complete("wg", "up", "--r") and "--peer" in complete("wg", "attach", "--p")
    assert complete("stat") == ["status"] and complete("status", "--j") == ["--json"]
    assert "--no-relay" in complete("connect", "--no")


PRIV = "8J+JMOGs/OjFnert8qotOL2IIgAVOa/AQ720NGNdAEA="
PUB = "07ifm1wzpsIWCDd+umnWqxssx8SOgSHrD5y72xxV0FM="


@pytest.mark.parametrize("name,text,expect", [
    ("wg0.txt", None, "the file name must be INTERFACE.conf"),
    ("a-name-far-too-long.conf", None, "the file name must be INTERFACE.conf"),
    ("missing.conf", None, "cannot read"),
    ("wg1.conf", f"[Interface]\nPrivateKey = {PRIV}\nColour = blue\n", "line 3"),
    ("wg2.conf", f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB}\n", "has no Endpoint"),
])
def test_wg_up_refuses_bad_files_before_anything_changes(state, tmp_path, name, text, expect):
    """`pave wg up` with a bad file name or contents: exit 2, one line, no runtime record."""
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    runtime = tmp_path / "run"
    r = pave("--state-dir", state, "wg", "up", str(path), env={**os.environ, "PAVE_RUNTIME_DIR": str(runtime)})
    assert r.returncode == 2, r.stderr
    assert expect in one_error_line(r)
    assert not runtime.exists() and not os.path.exists(state)


def test_wg_and_status_without_anything_running(state, tmp_path):
    env = {**os.environ, "PAVE_RUNTIME_DIR": str(tmp_path / "run")}
    r = pave("--state-dir", state, "wg", env=env)
    assert r.returncode == 2 and "'pave wg' needs a command: up, down, attach, detach" in one_error_line(r)
    r = pave("--state-dir", state, "wg", "down", str(tmp_path / "wg7.conf"), env=env)
    assert r.returncode == 1 and "no `pave wg up` recorded for wg7" in one_error_line(r)
    r = pave("--state-dir", state, "wg", "detach", "wg7", env=env)
    assert r.returncode == 1 and "no `pave wg attach` recorded for wg7" in one_error_line(r)
    r = pave("--state-dir", state, "status", "--json", env=env)
    assert r.returncode == 0, r.stderr
    import json
    assert json.loads(r.stdout) == {"schema": "pave.overview.v1", "tunnels": [], "nodes": []}
    r = pave("--state-dir", state, "status", env=env)
    assert r.returncode == 0 and "PAVE is not running" in r.stdout
