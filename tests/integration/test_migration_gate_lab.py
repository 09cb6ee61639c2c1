"""The keypair migration gate (relay/gate.h, "Keypair migration") attacked for real on the namespace lab.

The attacker is a client that never had a WireGuard keypair: `pave-migrate-tool` opens sessions
to the relay (behind NAT B) as `pave connect` does, from behind NAT A, names a target that is no
WireGuard server as its VPN, names indices of a keypair in KEYPAIR frames and streams
transport-shaped data on it. What the gate promises, with its constants read from relay/gate.h:
  - a session carries at most kClaimBudgetBytes / kClaimBudgetPackets of claimed data before the
    target answers on the claimed client index, however many claims it makes;
  - all sessions of the relay together give one target address at most kClaimedBurstBytes plus
    kClaimedBytesPerSecond per second;
  - an echo service never unlocks a session (it answers on the VPN index, not the client's; a
    later claim naming an earlier VPN index as its client index is refused);
  - a spoofed sweep of forged transport messages over the relay's ports finds the port of the
    relay's socket toward the target no cheaper than the handshake sweep (tests/integration/
    test_gate_sweep_lab.py), and what it unlocks then carries no more than the attacker sends.
Sent and delivered figures are printed.
"""

import json
import re
import time
from pathlib import Path

import pytest

from lab import gate_sweep as spoof
from lab.netlab import Lab, wait_until
from lab.pave_lab import BOOT_IP, BOOT_PAVE_PORT, CLIENT_PRIVATE, CLIENT_PUBLIC, RELAY_PUBLIC, VPN_IP
from lab.swarm import migrate_tool_bin
from lab import wg_lab as W

ROOT = Path(__file__).resolve().parent.parent.parent
SINK_PORT = 5353
ECHO_PORT = 5354


def gate_constants() -> dict:
    """The migration budget's constants as relay/gate.h states them."""
    text = (ROOT / "relay" / "gate.h").read_text()
    out = {}
    for name in ("kClaimBudgetBytes", "kClaimBudgetPackets", "kMaxClaims", "kClaimedBurstBytes",
                 "kClaimedBytesPerSecond"):
        m = re.search(rf"\b{name}\s*=\s*([0-9 *]+);", text)
        assert m, name
        out[name] = eval(m.group(1), {"__builtins__": {}})  # digits, spaces and '*' only
    return out


G = gate_constants()


def tool_argv(pl, vpn: str, port: int, **opts) -> list:
    argv = [migrate_tool_bin(), "--network-id", pl.netid, "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}",
            "--relay", pl.relay_id, "--vpn", vpn, "--bind", f"{CLIENT_PRIVATE}:{port}",
            "--candidate", f"{CLIENT_PUBLIC}:{port}"]
    for k, v in opts.items():
        argv += ["--" + k.replace("_", "-"), v]
    return argv


def run_tool(lab: Lab, pl, vpn: str, port: int, **opts) -> dict:
    r = lab.run("client", tool_argv(pl, vpn, port, **opts), check=False, timeout=90)
    assert r.returncode == 0, (r.stdout, r.stderr, pl.log("relay")[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def wait_quiet(path: Path, seconds: float = 0.5) -> dict:
    """The sink's totals once its datagram count has not moved for ``seconds``."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + 10
    while time.monotonic() < deadline:
        st = spoof.sink_stats(path)
        if st.get("datagrams") != last:
            last, since = st.get("datagrams"), time.monotonic()
        elif time.monotonic() - since >= seconds:
            return st
        time.sleep(0.1)
    return spoof.sink_stats(path)


def claims_counts(pl) -> tuple[int, int]:
    intake = pl.relay_sessions_json()["intake"]
    return intake["claims_accepted"], intake["claims_refused"]


def test_claimed_keypair_to_a_sink_or_an_echo_gets_at_most_the_budget(lab, tmp_path):
    sink, echo = tmp_path / "sink.json", tmp_path / "echo.json"
    spoof.start_sink(lab, "vpn", VPN_IP, SINK_PORT, sink)
    # The echo on another address: the relay's claimed-data budget is kept per address.
    spoof.start_sink(lab, "boot", BOOT_IP, ECHO_PORT, echo, echo=True)
    pl = W.LabPave(lab)
    pl.start_swarm()
    budget_b, budget_p = G["kClaimBudgetBytes"], G["kClaimBudgetPackets"]

    # (a) One session, one claim, 200 x 1,024 B for the sink.
    t_first = time.monotonic()
    a = run_tool(lab, pl, f"{VPN_IP}:{SINK_PORT}", 4700, claims="0x11111111:0x22222222", packets=200, size=1024,
                 rate=400, hold=0.5)
    st = wait_quiet(sink)
    print(f"\n(a) 1 session: {a['sent_packets']} x 1024 B sent ({a['sent_bytes']} B) -> sink got "
          f"{st.get('transport', 0)} datagrams, {st.get('transport_bytes', 0)} B (budget {budget_p} datagrams, "
          f"{budget_b} B)")
    assert a["sessions"] == 1 and a["keypair_frames"] >= 1, a
    assert 0 < st["transport_bytes"] <= budget_b and st["transport"] <= budget_p, st
    assert st["sources"] and all(s.startswith(RELAY_PUBLIC + ":") for s in st["sources"]), st
    assert a["received_wg"] == 0 and a["found"] is None, a
    delivered_a = st["transport_bytes"]

    # (b) Four sessions (the relay's cap per client address), four claims each, to the same sink:
    # the sessions' budgets together (4 x 16 KiB) exceed what the address may receive.
    b = run_tool(lab, pl, f"{VPN_IP}:{SINK_PORT}", 4710, sessions=4,
                 claims="0x1000:0x2000,0x3000:0x4000,0x5000:0x6000,0x7000:0x8000", packets=40, size=1024,
                 rate=2000, hold=0.5)
    st = wait_quiet(sink)
    elapsed = time.monotonic() - t_first
    bound = G["kClaimedBurstBytes"] + G["kClaimedBytesPerSecond"] * elapsed
    delivered_b = st["transport_bytes"] - delivered_a
    # The address's bucket holds at most the burst when (b)'s sessions start sending.
    data_s = b["seconds"] - b["setup_s"]
    bound_b = G["kClaimedBurstBytes"] + G["kClaimedBytesPerSecond"] * data_s
    print(f"(b) {b['sessions']} sessions, 4 claims each: {b['sent_packets']} x 1024 B sent ({b['sent_bytes']} B) "
          f"in {data_s:.1f} s -> sink got {delivered_b} B (per-address bound {G['kClaimedBurstBytes']} + "
          f"{G['kClaimedBytesPerSecond']}/s = {bound_b:.0f} B; the sessions' own budgets: {4 * budget_b} B); "
          f"{st['transport_bytes']} B in all over {elapsed:.1f} s (bound {bound:.0f} B)")
    assert b["sessions"] == 4, b
    assert delivered_b > 0, st
    assert delivered_b <= bound_b, st
    assert st["transport_bytes"] <= bound, st
    assert b["received_wg"] == 0 and b["found"] is None, b

    # (c) An echo service: it sends every claimed datagram back, addressed to the VPN index. A second
    # claim names the first claim's VPN index as its client index, so that the echo would unlock it:
    # refused.
    acc0, ref0 = claims_counts(pl)
    c = run_tool(lab, pl, f"{BOOT_IP}:{ECHO_PORT}", 4730, claims="0x33333333:0x44444444,0x44444444:0x55555555",
                 packets=60, size=256, rate=200, hold=1.5)
    est = wait_quiet(echo)
    acc1, ref1 = claims_counts(pl)
    print(f"(c) echo: {c['sent_packets']} x 256 B sent -> echo got {est.get('transport', 0)} datagrams "
          f"({est.get('transport_bytes', 0)} B) and sent them back; the client received {c['received_wg']}; "
          f"claims accepted {acc1 - acc0}, refused {ref1 - ref0}")
    assert 0 < est["transport"] <= budget_p and est["transport_bytes"] <= budget_b, est
    assert est["echoed"] == est["datagrams"], est
    assert c["received_wg"] == 0 and c["found"] is None, c  # nothing came back: never unlocked
    # (KEYPAIR frames are counted: the tool repeats each every 100 ms while it sends, as the client does.)
    assert acc1 > acc0 and ref1 > ref0, (acc0, ref0, acc1, ref1)


def test_spoofed_sweep_with_claims_is_bounded(lab, tmp_path):
    """The gate sweep lab's attack with a claimed keypair instead of handshakes: claimed data keeps
    the answer window open while forged transport messages addressed to the claimed client index
    sweep the relay's ports; the one that hits unlocks the session and tells the attacker the port."""
    index_c, index_v = 0x5EED1DE5, 0x0BADF00D
    sink = tmp_path / "sink.json"
    spoof.start_sink(lab, "vpn", VPN_IP, SINK_PORT, sink)
    pl = W.LabPave(lab)
    pl.start_swarm()
    found = tmp_path / "found"
    out = tmp_path / "tool.json"
    # Claimed data: 64-byte datagrams twice a second for up to 16 s (the session's 32 datagrams),
    # then, once unlocked, 1,000 x 1,440 B.
    tool = lab.spawn("client", tool_argv(pl, f"{VPN_IP}:{SINK_PORT}", 4800, claims=f"{index_c}:{index_v}",
                                         packets=G["kClaimBudgetPackets"], size=64, rate=2, found=found,
                                         after_found=1000, hold=1), label="attacker: claims",
                     stdout_path=out)
    assert wait_until(lambda: spoof.sink_stats(sink).get("transport", 0) >= 1, 30,
                      what="the first claimed datagram at the sink")
    # A second pass if the first missed (a loaded machine drops forged datagrams) while the claims'
    # answer windows are still open.
    sw = {"sent": 0, "bytes_ip": 0, "seconds": 0.0}
    for _ in range(2):
        sweep, sweep_out = spoof.sweep_responses(lab, "boot", f"{VPN_IP}:{SINK_PORT}", RELAY_PUBLIC, index_c,
                                                 rate=20000, stop_file=found, first=1024, last=65535,
                                                 kind="transport")
        sweep.wait(60)
        r = spoof.sweep_result(sweep_out)
        sw = {k: sw[k] + r[k] for k in sw}
        if found.exists() or tool.poll() is not None:
            break
    tool.wait(60)
    t = json.loads(out.read_text().strip().splitlines()[-1])
    st = wait_quiet(sink)
    relay_port = int(st["sources"][0].rsplit(":", 1)[1])
    claimed = st["transport_by_size"].get("64", 0)
    after = st["transport_by_size"].get("1440", 0) * 1440
    print(f"\nsweep: {sw['sent']} forged transport messages ({sw['bytes_ip']} B on the wire) in "
          f"{sw['seconds']:.1f} s; the relay's socket toward the sink: port {relay_port}; found: {t['found']}; "
          f"claimed data at the sink before unlock: {claimed} x 64 B (budget {G['kClaimBudgetPackets']})")
    if t["found"] is None:
        assert st["transport_by_size"].get("1440", 0) == 0, st
        pytest.fail(f"the sweep never hit the relay's port {relay_port} within the claims' answer windows "
                    f"(loaded machine?): {sw}, {t}")
    assert st["sources"] == [f"{RELAY_PUBLIC}:{relay_port}"], st
    assert t["found"] == relay_port
    assert claimed <= G["kClaimBudgetPackets"] and claimed * 64 <= G["kClaimBudgetBytes"], st
    # The sweep reaches the port after (port - 1024) datagrams at the earliest.
    assert sw["sent"] >= relay_port - 1024 - 256, sw
    attacker = sw["bytes_ip"] + t["sent_bytes"]
    sent_after = t["sent_bytes"] - t["claim_sent_bytes"]
    print(f"unlocked by the forged message: {sent_after} B sent -> {after} B delivered; in all "
          f"{st['transport_bytes']} B delivered for {attacker} B the attacker sent "
          f"({st['transport_bytes'] / attacker:.3f} per byte)")
    assert after <= sent_after, (after, sent_after)
    assert st["transport_bytes"] < attacker
