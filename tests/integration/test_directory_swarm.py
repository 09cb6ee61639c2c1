"""The relay directory on a real OpenDHT swarm: 8 `pave node` processes and Debian's dhtnode,
on loopback, private network id, --presence-ttl 30s."""

import os
import time

import pytest

from lab.swarm import Swarm, cpu_ns

TTL = 30
N_NODES = 8


def wait_until(pred, timeout, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture(scope="module")
def swarm():
    with Swarm() as s:
        boot = s.start_dhtnode()
        first = s.add_node(boot, ["--presence-ttl", f"{TTL}s"])
        s.wait_ready(first)
        for i in range(1, N_NODES):
            # half bootstrap from Debian's dhtnode, half from a PAVE node
            b = boot if i % 2 else f"127.0.0.1:{first.port}"
            s.add_node(b, ["--presence-ttl", f"{TTL}s"])
        for n in s.nodes:
            s.wait_ready(n)
        yield s


def genuine(swarm):
    return {n.node_id for n in swarm.nodes if n.alive()}


def listings_complete(swarm):
    ids = genuine(swarm)
    return all(n.relays() == ids - {n.node_id} for n in swarm.nodes if n.alive())


def test_every_node_lists_every_other_relay(swarm):
    t0 = time.time()
    assert wait_until(lambda: listings_complete(swarm), timeout=45), \
        {n.name: sorted(n.relays()) for n in swarm.nodes}
    print(f"directory complete on all {N_NODES} nodes after {time.time() - t0:.1f} s")
    for n in swarm.nodes:
        status = n.shell("status")
        assert "dht connected" in status
        assert f"id {n.node_id}" in status


def test_forged_records_are_not_listed(swarm):
    before = swarm.nodes[3].stats()
    forged = {kind: swarm.dht_tool("forge", kind) for kind in ("badsig", "wrongkey", "expired", "farfuture")}
    assert all(len(v) == 40 for v in forged.values())
    watcher = swarm.nodes[3]
    # Every listener judges each forged value once; wait until the watcher has seen all four.
    def judged():
        st = watcher.stats()
        return (st["directory_bad_signature"] >= before["directory_bad_signature"] + 2  # badsig and wrongkey
                and st["directory_expired"] >= before["directory_expired"] + 1
                and st["directory_too_far_future"] >= before["directory_too_far_future"] + 1)
    assert wait_until(judged, timeout=20), watcher.stats()
    ids = genuine(swarm)
    for n in swarm.nodes:
        listed = n.relays()
        assert not (listed & set(forged.values())), n.name
        assert listed == ids - {n.node_id}


def test_flood_of_junk_is_cheap_and_changes_nothing(swarm):
    """500 junk values at the bucket keys: garbage, forged signatures, expired records and
    OpenDHT putEncrypted values. PAVE judges each value once, on its loop thread; the budget of
    100 ms covers that judging and the listings made during the flood. OpenDHT's own work as a
    storer and listener is measured and printed beside it."""
    node = swarm.nodes[5]
    ids = genuine(swarm)
    before = node.stats()
    c0 = cpu_ns(node.pid)
    t0 = time.time()
    assert swarm.dht_tool("flood", "500") == "flooded 500"
    # 3/4 of the flood reaches PAVE's code; OpenDHT itself drops the putEncrypted quarter
    # (this node has no identity and never decrypts).
    assert wait_until(lambda: node.stats()["values_seen"] >= before["values_seen"] + 370, timeout=20, step=0.5), \
        node.stats()["values_seen"] - before["values_seen"]
    # Listing while the junk is in the DHT costs nothing extra: values were judged on arrival.
    listing_cpu = 0
    for _ in range(5):
        l0 = cpu_ns(node.pid)
        assert node.relays() == ids - {node.node_id}
        listing_cpu += cpu_ns(node.pid) - l0
    after = node.stats()
    judged = after["values_seen"] - before["values_seen"]
    judge_ms = (after["judge_cpu_us"] - before["judge_cpu_us"]) / 1000
    listing_ms = listing_cpu / 5 / 1e6
    process_ms = (cpu_ns(node.pid) - c0) / 1e6
    print(f"flood of 500 junk values: {judged} judged by PAVE in {judge_ms:.1f} ms of CPU; "
          f"one listing {listing_ms:.2f} ms; whole process incl. OpenDHT storage/listen traffic "
          f"{process_ms:.0f} ms over {time.time() - t0:.1f} s")
    assert after["directory_bad_signature"] - before["directory_bad_signature"] >= 100
    assert after["directory_expired"] - before["directory_expired"] >= 100
    # Each structurally valid value costs an X25519 (the low-order inbox-key check) and an Ed25519
    # verification: about 44 ms for ~380 values on a release build, hence 100 ms; AddressSanitizer
    # (the test command exports ASAN_OPTIONS for that run) makes the same work slower still.
    budget_ms = 250 if os.environ.get("ASAN_OPTIONS") else 100
    assert judge_ms + listing_ms < budget_ms, f"directory cost {judge_ms + listing_ms:.1f} ms of CPU"


def test_stopped_relay_disappears_within_ttl(swarm):
    victim = swarm.nodes[2]
    victim.stop()
    t0 = time.time()
    others = [n for n in swarm.nodes if n.alive()]
    assert wait_until(lambda: all(victim.node_id not in n.relays() for n in others), timeout=TTL + 10)
    print(f"stopped relay gone from every listing after {time.time() - t0:.1f} s")
    # and nobody else vanished
    ids = genuine(swarm)
    for n in others:
        assert n.relays() == ids - {n.node_id}
