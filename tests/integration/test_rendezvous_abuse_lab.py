"""Sealed offers from a stranger against a relay, on the standard namespace lab (client behind
NAT A, relay behind NAT B, VPN and DHT boot host public). Anyone can seal a valid offer to a
relay's inbox key: `pave-dht-tool offers` reads the relay's presence record and puts such
offers, with the candidates it is told.

- Offers whose candidates never answer, 10 per second, do not stop a real client from
  connecting (unvalidated sessions have a budget of their own; silent ones give way), and what
  the relay sends to the named victim stays bounded across all those offers.
- Offers naming loopback, private and the relay's own addresses are refused and nothing is
  sent to them.
"""

import time

from lab.netlab import wait_until
from lab.pave_lab import BOOT_IP, BOOT_PAVE_PORT, RELAY_PUBLIC, VPN_IP
from lab.swarm import dht_tool_bin

PROBE_BYTES = 64  # one PROBE frame (UDP payload: its size class)




def offers_cmd(plab, rate, seconds, candidates, vpn=f"{VPN_IP}:51820"):
    return [dht_tool_bin(), "--network-id", plab.netid, "--bootstrap", f"{BOOT_IP}:{BOOT_PAVE_PORT}",
            "offers", plab.relay_id[:16], rate, seconds, vpn, *candidates]


def test_offer_flood_does_not_lock_out_a_real_client(plab):
    lab = plab.lab
    # The victim the offers name: eight ports of the VPN host (nothing listens there).
    lab.count_from("vpn", RELAY_PUBLIC)
    victim = [f"{VPN_IP}:{7000 + i}" for i in range(8)]
    rate, seconds = 10, 25
    t0 = time.time()
    flood = lab.spawn("boot", offers_cmd(plab, rate, seconds, victim), "offer-flood",
                      stdout_path=plab.tmp / "flood.log")
    # Let the flood fill the unvalidated budget (64 at 10/s: ~7 s), then connect.
    assert wait_until(lambda: plab.relay_sessions_json()["slots"]["pending"] >= 60, timeout=30), \
        plab.relay_sessions()[-600:] + plab.log("flood")
    t_client = time.time()
    plab.start_client(timeout="30s")
    plab.wait_connected(timeout=40)
    took = time.time() - t_client
    r = plab.relay_sessions_json()
    intake, slots = r["intake"], r["slots"]
    assert any(s["state"] == "established" for s in r["sessions"])
    assert slots["established"] == 1, slots
    # The flood was really going on while the client connected: the pending budget was full
    # when it began and still is (connecting may take well under one offer's interval).
    assert slots["pending"] >= 60, slots
    flood.wait(timeout=seconds + 30)
    elapsed = time.time() - t0
    r = plab.relay_sessions_json()
    intake, slots = r["intake"], r["slots"]
    packets = lab.counter_value("vpn", RELAY_PUBLIC)
    assert intake["evicted"] >= 10, intake  # offers kept coming into the full budget
    assert slots["established"] == 1, slots  # ... and the real client kept its session
    print(f"\n{intake['accepted']} offers accepted in {elapsed:.0f} s ({intake['evicted']} evicted while silent); "
          f"real client connected {took:.1f} s after start; relay slots {slots}")
    print(f"victim {VPN_IP}: {packets} datagrams (~{packets * PROBE_BYTES} B of probes) from the relay over "
          f"{elapsed:.0f} s for {intake['accepted']} offers naming it; unanswered probe bytes (all sessions) "
          f"{slots['probe_bytes_unanswered']}, refused by the per-destination limit {slots['probe_limited']}")
    # Per destination across sessions: the shared bucket (2048 B, then 64 B/s), generously.
    assert packets * PROBE_BYTES <= 2048 + 64 * elapsed + 1024, packets
    # Per offer: at most the punch credit (1024 B) each, far less in total here.
    assert slots["probe_bytes_unanswered"] <= 1024 * intake["accepted"]
    assert slots["probe_limited"] > 0


def test_hostile_candidates_are_refused_and_never_probed(plab):
    lab = plab.lab
    before = plab.relay_sessions_json()["intake"]
    hostile = ["127.0.0.1:22", "10.2.0.1:53", "10.2.0.2:22", f"{RELAY_PUBLIC}:22", "169.254.169.254:80",
               "240.0.0.1:9", "100.64.0.1:9", "192.168.1.1:80"]
    out = lab.run("boot", offers_cmd(plab, 2, 2, hostile), timeout=60)
    deadline = time.time() + 20
    while plab.relay_sessions_json()["intake"]["refused"] < before["refused"] + 4 and time.time() < deadline:
        time.sleep(0.2)
    assert plab.relay_sessions_json()["intake"]["refused"] >= before["refused"] + 4, \
        plab.relay_sessions() + out.stdout + out.stderr + plab.log("relay")[-2000:]
    after = plab.relay_sessions_json()["intake"]
    assert after["accepted"] == before["accepted"]
    assert plab.relay_sessions_json()["sessions"] == []
    assert "rendezvous refused: no usable address candidate" in plab.log("relay")
    print(f"\n{after['refused'] - before['refused']} offers with 8 hostile candidates each: refused, no session "
          f"(so no probe)")
