"""`pave connect` against a loopback swarm with relays that cannot serve: one full
(--capacity 0), two gone without a word (SIGKILL: their presence records live on until they
expire). The client must move on to another relay each time and end connected to the one that
works, within its --timeout."""

import os
import signal
import subprocess
import time

from lab.swarm import Swarm, free_udp_port, pave_bin


def test_client_moves_on_from_full_and_dead_relays():
    with Swarm() as s:
        boot = s.start_dhtnode()
        relays = {}
        for name, extra in (("full", ["--capacity", "0"]), ("dead1", []), ("dead2", []), ("good", [])):
            n = s.add_node(boot, ["--presence-ttl", "60s", "--allow-private-endpoints", *extra], name=name)
            s.wait_ready(n)
            relays[name] = n
        ids = {n.node_id for n in relays.values()}
        watcher = relays["good"]
        deadline = time.time() + 30
        while time.time() < deadline and watcher.relays() != ids - {watcher.node_id}:
            time.sleep(0.5)
        for name in ("dead1", "dead2"):
            relays[name].stop(sig=signal.SIGKILL)
        state = os.path.join(s.tmp, "client")
        log_path = os.path.join(s.tmp, "client.log")
        with open(log_path, "w") as log:
            client = subprocess.Popen([pave_bin(), "--state-dir", state, "connect", "--vpn", "127.0.0.2:9",
                                       "--listen", f"127.0.0.1:{free_udp_port()}", "--bind", "127.0.0.1", "--lan-candidates",
                                       "--network-id", str(s.network_id), "--bootstrap", boot, "--timeout", "40s"],
                                      stdout=log, stderr=subprocess.STDOUT)
        s.procs.append(client)
        good = relays["good"].node_id[:16]
        deadline = time.time() + 45
        text = ""
        while time.time() < deadline and client.poll() is None:
            text = open(log_path).read()
            if "path validated; connected via relay" in text:
                break
            time.sleep(0.3)
        text = open(log_path).read()
        assert f"connected via relay {good}" in text, (client.poll(), text)
        picked = [l.split("picked relay ")[1].split()[0] for l in text.splitlines()
                  if "picked relay" in l and l.startswith("pave connect")]
        assert picked[-1] == good and len(set(picked)) == len(picked), picked
        for other in picked[:-1]:
            name = next(k for k, n in relays.items() if n.node_id.startswith(other))
            expected = "refused: relay at capacity; trying another relay" if name == "full" else "trying another relay"
            assert f"relay {other}" in text and expected in text, (name, text)
        print("relays tried in order:", picked)
        assert client.poll() is None
        assert "state=established" in subprocess.run(
            [pave_bin(), "--state-dir", state, "shell", "--connect", "-c", "sessions"],
            capture_output=True, text=True, timeout=10).stdout
