"""PAVE on the standard namespace lab (lab.netlab): the DHT bootstrap host, a relay behind
NAT B and a client behind NAT A, all real processes tracked and stopped by PID.

    boot   203.0.113.40  Debian's dhtnode (UDP 4222) + a `pave node --no-relay` (UDP 4300)
    relay  10.2.0.2      `pave node` behind NAT B (public 203.0.113.20)
    client 10.1.0.2      `pave connect` behind NAT A (public 203.0.113.10)
    vpn    203.0.113.30  WireGuard server (wireguard-go), when a test needs one
"""

import json
import random
import re
import shutil
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from lab.netlab import Lab, wait_until
from lab.swarm import pave_bin

CLIENT_PUBLIC = "203.0.113.10"
CLIENT_PRIVATE = "10.1.0.2"
RELAY_PUBLIC = "203.0.113.20"
RELAY_PRIVATE = "10.2.0.2"
VPN_IP = "203.0.113.30"
BOOT_IP = "203.0.113.40"
DHTNODE_PORT = 4222
BOOT_PAVE_PORT = 4300
RELAY_PORT = 4500
CLIENT_PORT = 4600


class PaveLab:
    def __init__(self, lab: Lab, ttl="30s"):
        self.lab = lab
        self.netid = random.randint(100000, 2**31)
        self.tmp = Path(tempfile.mkdtemp(prefix="pave-lab-"))
        weakref.finalize(self, shutil.rmtree, str(self.tmp), True)
        self.ttl = ttl
        self.client = None
        self.log_args = []  # e.g. ["--log-level", "debug"]: given to every node this lab starts

    def state(self, name):
        return str(self.tmp / name)

    def log(self, name):
        p = self.tmp / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def pave(self, host, *args, check=True, timeout=30):
        return self.lab.run(host, [pave_bin(), *args], check=check, timeout=timeout)

    def shell(self, host, state, command, connect=False):
        args = ["--state-dir", self.state(state), "shell"] + (["--connect"] if connect else []) + ["-c", command]
        return self.pave(host, *args, timeout=20).stdout

    def shell_json(self, host, state, command, connect=False):
        """The JSON object a `COMMAND --json` replies with (see the schemas in node/node.cpp)."""
        return json.loads(self.shell(host, state, command + " --json", connect=connect))

    def status(self, host, state, connect=False):
        doc = self.shell_json(host, state, "status", connect=connect)
        assert doc["schema"] == "pave.status.v1", doc
        return doc

    def stats(self, host, state, connect=False):
        doc = self.shell_json(host, state, "stats", connect=connect)
        assert doc["schema"] == "pave.stats.v1", doc
        return doc["counters"]

    def relay_ids(self, host, state):
        doc = self.shell_json(host, state, "relays")
        assert doc["schema"] == "pave.relays.v1", doc
        return {r["id"] for r in doc["relays"]}

    def public_address(self, host, state):
        """The address the node learnt from its reflectors, or None."""
        pa = self.status(host, state)["public_address"]
        return pa["address"] if pa else None

    def wait_shell(self, host, state, timeout=10):
        """Until the node's control socket answers (it is created a moment after start)."""
        deadline = time.time() + timeout
        while True:
            r = self.pave(host, "--state-dir", self.state(state), "shell", "-c", "status", check=False)
            if r.returncode == 0:
                return
            if time.time() > deadline:
                raise AssertionError(f"{state} node never answered: {r.stderr}\n{self.log(state)[-2000:]}")
            time.sleep(0.1)

    def start_swarm(self, require_public_port=True):
        """dhtnode and a PAVE bootstrap node on `boot`, the relay behind NAT B."""
        lab = self.lab
        lab.spawn("boot", ["dhtnode", "-s", "-n", self.netid, "-p", DHTNODE_PORT], "dhtnode",
                  stdout_path=self.tmp / "dhtnode.log")
        boot_args = ["--bootstrap", f"{BOOT_IP}:{DHTNODE_PORT}", "--network-id", self.netid]
        self.pave("boot", "--state-dir", self.state("boot"), "identity", "create")
        lab.spawn("boot", [pave_bin(), *self.log_args, "--state-dir", self.state("boot"), "node", "--no-relay", "--bind", BOOT_IP,
                           "--port", BOOT_PAVE_PORT, *boot_args], "pave-boot", stdout_path=self.tmp / "boot.log")
        self.wait_shell("boot", "boot")
        self.pave("relay", "--state-dir", self.state("relay"), "identity", "create")
        self.relay_id = self.pave("relay", "--state-dir", self.state("relay"), "identity", "show").stdout.split()[1]
        lab.spawn("relay", [pave_bin(), *self.log_args, "--state-dir", self.state("relay"), "node", "--bind", RELAY_PRIVATE,
                            "--port", RELAY_PORT, "--presence-ttl", self.ttl,
                            "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}", "--network-id", self.netid],
                  "pave-relay", stdout_path=self.tmp / "relay.log")
        self.wait_shell("relay", "relay")
        # The relay is in the directory once the boot node lists it.
        assert wait_until(lambda: self.relay_id in self.relay_ids("boot", "boot"), timeout=30), \
            self.log("relay")[-3000:]
        # ... and it knows its public address (STUN answered by the PAVE boot node); behind a
        # symmetric NAT the port is random.
        def learnt():
            a = self.public_address("relay", "relay")
            if a is None:
                return False
            return a == f"{RELAY_PUBLIC}:{RELAY_PORT}" if require_public_port else a.startswith(f"{RELAY_PUBLIC}:")
        assert wait_until(learnt, timeout=20), self.shell("relay", "relay", "status")

    def start_client(self, vpn=f"{VPN_IP}:51820", timeout="20s", extra=(), bind=CLIENT_PRIVATE):
        """`pave connect` on the client host, its session socket bound to ``bind`` ("0.0.0.0": the
        wildcard, which follows a change of the host's address)."""
        self.client = self.lab.spawn(
            "client", [pave_bin(), *self.log_args, "--state-dir", self.state("client"), "connect", "--vpn", vpn,
                       "--bind", bind, "--port", CLIENT_PORT, "--timeout", timeout,
                       "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}", "--network-id", self.netid, *extra],
            "pave-client", stdout_path=self.tmp / "client.log")
        return self.client

    def client_sessions(self):
        return self.shell("client", "client", "sessions", connect=True)

    def relay_sessions(self):
        return self.shell("relay", "relay", "sessions")

    def client_sessions_json(self):
        """The client's `sessions --json` (schema pave.sessions.v1): its "client" object."""
        return json.loads(self.shell("client", "client", "sessions --json", connect=True))["client"]

    def relay_sessions_json(self):
        """The relay's `sessions --json` (schema pave.sessions.v1): its "relay" object."""
        return json.loads(self.shell("relay", "relay", "sessions --json"))["relay"]

    def wait_connected(self, timeout=30):
        ok = wait_until(lambda: "path validated; connected via relay" in self.log("client"), timeout=timeout)
        assert ok, self.log("client")[-3000:] + "\n--- relay ---\n" + self.log("relay")[-3000:]


def field(text, name):
    """The value of `name=VALUE` in a sessions line."""
    m = re.search(rf"\b{name}=(\S+)", text)
    return m.group(1) if m else None
