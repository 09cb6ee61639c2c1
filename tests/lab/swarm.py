"""A PAVE swarm on loopback for integration tests: Debian's dhtnode plus `pave node` processes.

Every process is started by the swarm, tracked by PID and stopped by PID on close().
All traffic stays on 127.0.0.0/8.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD = Path(os.environ.get("PAVE_BUILD", ROOT / "build"))


def pave_bin():
    return str(BUILD / "pave")


def dht_tool_bin():
    return str(BUILD / "pave-dht-tool")


def migrate_tool_bin():
    return str(BUILD / "pave-migrate-tool")


_handed_out = set()


def free_udp_port():
    """A UDP port that is free on 127.0.0.1 right now and was not handed out before in this test
    run (the kernel may pick a port again once its socket is closed: with a hundred nodes started
    at once, two of them would get the same port about one time in six)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def cpu_ns(pid):
    """CPU time (ns) used so far by every thread of a process, from schedstat."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


class PaveNode:
    def __init__(self, swarm, name, port, proc, state_dir, log_path):
        self.swarm, self.name, self.port, self.proc = swarm, name, port, proc
        self.state_dir, self.log_path = state_dir, log_path
        self.node_id = None

    @property
    def pid(self):
        return self.proc.pid

    def shell(self, command, timeout=20, check=True):
        r = subprocess.run([pave_bin(), "--state-dir", self.state_dir, "shell", "-c", command],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: shell {command!r} failed: {r.stderr.strip()}")
        return r.stdout

    def query(self, command, timeout=10):
        """One command over the node's control socket (node.sock: a line in, text and a NUL back),
        without starting a `pave shell` process: for polling many nodes."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(timeout)
            c.connect(os.path.join(self.state_dir, "node.sock"))
            c.sendall(command.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\0"):
                chunk = c.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return buf.rstrip(b"\0").decode()

    def shell_json(self, command, timeout=20):
        """The JSON object a `COMMAND --json` replies with (see the schemas in node/node.cpp)."""
        return json.loads(self.shell(command + " --json", timeout=timeout))

    def status(self):
        return self.shell_json("status")

    def relays(self):
        """Node ids (hex) in this node's relay directory."""
        doc = self.shell_json("relays")
        assert doc["schema"] == "pave.relays.v1", doc
        return {r["id"] for r in doc["relays"]}

    def stats(self):
        doc = self.shell_json("stats")
        assert doc["schema"] == "pave.stats.v1", doc
        return doc["counters"]

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        return Path(self.log_path).read_text(errors="replace")


class Swarm:
    """Context manager: a private-network swarm on loopback."""

    def __init__(self, network_id=None):
        self.network_id = network_id or random.randint(100000, 2**31)
        self.tmp = tempfile.mkdtemp(prefix="pave-swarm-")
        self.procs = []
        self.nodes = []
        self.dhtnode_port = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _spawn(self, argv, log_name):
        log_path = os.path.join(self.tmp, log_name)
        f = open(log_path, "w")
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        f.close()
        self.procs.append(proc)
        return proc, log_path

    def start_dhtnode(self):
        """Debian's dhtnode as bootstrap and ordinary peer (service mode: no shell, SIGTERM stops it)."""
        self.dhtnode_port = free_udp_port()
        self.dhtnode, _ = self._spawn(["dhtnode", "-s", "-n", str(self.network_id), "-p", str(self.dhtnode_port)],
                                      "dhtnode.log")
        time.sleep(0.3)
        assert self.dhtnode.poll() is None, "dhtnode did not start"
        return f"127.0.0.1:{self.dhtnode_port}"

    def add_node(self, bootstrap, extra=(), name=None, identity=True):
        name = name or f"n{len(self.nodes)}"
        state = os.path.join(self.tmp, name)
        if identity:
            r = subprocess.run([pave_bin(), "--state-dir", state, "identity", "create"],
                               capture_output=True, text=True, check=True)
            node_id = r.stdout.split("id ")[1].split()[0]
        else:
            node_id = None
        port = free_udp_port()
        # Every node of the swarm is on this host: loopback candidates are LAN candidates.
        argv = [pave_bin(), "--state-dir", state, "--log-level", "info", "node", "--bind", "127.0.0.1",
                "--port", str(port), "--network-id", str(self.network_id), "--lan-candidates"]
        for b in ([bootstrap] if isinstance(bootstrap, str) else bootstrap):
            argv += ["--bootstrap", b]
        argv += list(extra)
        proc, log_path = self._spawn(argv, f"{name}.log")
        node = PaveNode(self, name, port, proc, state, log_path)
        node.node_id = node_id
        self.nodes.append(node)
        return node

    def add_nodes(self, bootstrap, count, extra=(), log_level="warn"):
        """`count` relays started at once: identities first, then every process in one go."""
        prepared = []
        for _ in range(count):
            name = f"n{len(self.nodes) + len(prepared)}"
            state = os.path.join(self.tmp, name)
            r = subprocess.run([pave_bin(), "--state-dir", state, "identity", "create"],
                               capture_output=True, text=True, check=True)
            prepared.append((name, state, r.stdout.split("id ")[1].split()[0]))
        started = []
        for name, state, node_id in prepared:
            port = free_udp_port()
            argv = [pave_bin(), "--state-dir", state, "--log-level", log_level, "node", "--bind", "127.0.0.1",
                    "--port", str(port), "--network-id", str(self.network_id), "--lan-candidates",
                    "--bootstrap", bootstrap, *extra]
            proc, log_path = self._spawn(argv, f"{name}.log")
            node = PaveNode(self, name, port, proc, state, log_path)
            node.node_id = node_id
            self.nodes.append(node)
            started.append(node)
        return started

    def wait_ready(self, node, timeout=10):
        """Until the node's control socket answers."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not node.alive():
                raise RuntimeError(f"{node.name} exited: {node.log()[-2000:]}")
            try:
                node.shell("status", timeout=5)
                return
            except Exception:
                time.sleep(0.1)
        raise TimeoutError(f"{node.name} did not come up")

    def dht_tool(self, *args, timeout=60):
        r = subprocess.run([dht_tool_bin(), "--network-id", str(self.network_id), "--bootstrap",
                            f"127.0.0.1:{self.dhtnode_port}", *args],
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
