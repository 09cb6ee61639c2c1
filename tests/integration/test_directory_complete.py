"""A complete directory at scale: 100 `pave node` relays on loopback, started at once, with
Debian's dhtnode as bootstrap (private network id).

Relays announce their presence with OpenDHT's permanent put once their DHT is connected: OpenDHT
then sends the record to whichever nodes become the closest to each replica key as the routing
tables fill, so a record published early is not stranded on the few nodes known at cold start.
Checked: every node lists every other relay within 10 s of the last start, and a relay started
later is listed by every node within 10 s of its start. Nodes are polled over their control
sockets (no process per poll, 16 at a time, each node until it is complete); they log warnings only, to keep 100 processes light on 2 cores."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.swarm import Swarm

N_NODES = 100
LIMIT_S = 10


def listing(node):
    try:
        doc = json.loads(node.query("relays --json", timeout=5))
    except (OSError, ValueError):
        return None  # not up yet
    assert doc["schema"] == "pave.relays.v1", doc
    return {r["id"] for r in doc["relays"]}


def wait_complete(nodes, want_of, limit):
    """Polls the nodes that are not complete yet, 16 at a time, about every 0.5 s, until every
    node lists what want_of(node) names or `limit` seconds pass. Returns (the monotonic time at
    which the last node was first seen complete, or None; {node name: relays still missing}).

    Each node's completion is the time of the answer that showed it complete, so the figure does
    not grow with the time a sequential round over 100 nodes takes on a loaded machine."""
    t0 = time.monotonic()
    done_at = {}
    missing = {}
    with ThreadPoolExecutor(max_workers=16) as pool:
        while True:
            pending = [n for n in nodes if n.name not in done_at]
            answers = list(pool.map(lambda n: (n, listing(n), time.monotonic()), pending))
            missing = {}
            for n, listed, at in answers:
                want = want_of(n)
                miss = (len(want) or 1) if listed is None else len(want - listed)
                if miss:
                    missing[n.name] = miss
                else:
                    done_at[n.name] = at
            if not missing or time.monotonic() - t0 >= limit:
                break
            time.sleep(0.5)
    return (max(done_at.values()) if done_at and not missing else None), missing


@pytest.mark.release_only  # a timing bound for 100 processes
def test_hundred_relays_started_at_once_list_each_other_and_a_latecomer():
    with Swarm() as s:
        boot = s.start_dhtnode()
        nodes = s.add_nodes(boot, N_NODES)
        started = time.monotonic()
        ids = {n.node_id for n in nodes}
        up, _ = wait_complete(nodes, lambda n: set(), LIMIT_S + 20)  # every control socket answers
        print(f"all {N_NODES} control sockets answer {(up or time.monotonic()) - started:.1f} s after the last start")
        last, missing = wait_complete(nodes, lambda n: ids - {n.node_id}, LIMIT_S + 20)
        since_start = (last or time.monotonic()) - started
        print(f"{N_NODES} relays started at once: every node listed all {N_NODES - 1} others "
              f"{since_start:.1f} s after the last start" if not missing else
              f"after {since_start:.1f} s, nodes still missing relays: {missing}")
        assert not missing and since_start <= LIMIT_S, missing
        assert all(n.alive() for n in nodes)

        late = s.add_nodes(boot, 1)[0]
        late_start = time.monotonic()
        last, missing = wait_complete(nodes, lambda n: {late.node_id}, LIMIT_S + 20)
        since_late = (last or time.monotonic()) - late_start
        print(f"a relay started later: listed by all {N_NODES} nodes {since_late:.1f} s after its start"
              if not missing else f"after {since_late:.1f} s, {len(missing)} nodes do not list the latecomer")
        assert not missing and since_late <= LIMIT_S, missing
