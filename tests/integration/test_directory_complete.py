"""A complete directory at scale: 100 `pave node` relays on loopback, started at once, with
Debian's dhtnode as bootstrap (private network id).

Relays announce their presence with OpenDHT's permanent put once their DHT is connected: OpenDHT
then sends the record to whichever nodes become the closest to each replica key as the routing
tables fill, so a record published early is not stranded on the few nodes known at cold start.
Checked: every node lists every other relay within 10 s of the last start, and a relay started
later is listed by every node within 10 s of its start. Nodes are polled over their control
sockets (no process per poll); they log warnings only, to keep 100 processes light on 2 cores."""

import json
import time

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


def missing_on(nodes, want_of):
    """{node name: number of relays it does not list yet}, for nodes that miss any."""
    out = {}
    for n in nodes:
        listed = listing(n)
        want = want_of(n)
        miss = (len(want) or 1) if listed is None else len(want - listed)
        if miss:
            out[n.name] = miss
    return out


def wait_complete(nodes, want_of, limit):
    t0 = time.monotonic()
    missing = missing_on(nodes, want_of)
    while missing and time.monotonic() - t0 < limit:
        time.sleep(1.0)  # a round of 100 queries costs the nodes CPU too: once a second
        missing = missing_on(nodes, want_of)
    return time.monotonic() - t0, missing


def test_hundred_relays_started_at_once_list_each_other_and_a_latecomer():
    with Swarm() as s:
        boot = s.start_dhtnode()
        nodes = s.add_nodes(boot, N_NODES)
        started = time.monotonic()
        ids = {n.node_id for n in nodes}
        up, _ = wait_complete(nodes, lambda n: set(), LIMIT_S + 20)  # every control socket answers
        print(f"all {N_NODES} control sockets answer {up:.1f} s after the last start")
        took, missing = wait_complete(nodes, lambda n: ids - {n.node_id}, LIMIT_S + 20)
        since_start = time.monotonic() - started
        print(f"{N_NODES} relays started at once: every node listed all {N_NODES - 1} others "
              f"{since_start:.1f} s after the last start" if not missing else
              f"after {since_start:.1f} s, nodes still missing relays: {missing}")
        assert not missing and since_start <= LIMIT_S, missing
        assert all(n.alive() for n in nodes)

        late = s.add_nodes(boot, 1)[0]
        late_start = time.monotonic()
        took, missing = wait_complete(nodes, lambda n: {late.node_id}, LIMIT_S + 20)
        since_late = time.monotonic() - late_start
        print(f"a relay started later: listed by all {N_NODES} nodes {since_late:.1f} s after its start"
              if not missing else f"after {since_late:.1f} s, {len(missing)} nodes do not list the latecomer")
        assert not missing and since_late <= LIMIT_S, missing
