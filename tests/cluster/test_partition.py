"""Issue 5, fault injection with real partitions: members are separate hosts in network
namespaces made by the test, so cutting the primary off is a cut link. A probe inside each
member's namespace records every 100 ms whether its PostgreSQL accepts writes (is a
primary); the checker asserts that no two members were writable at the same moment."""
import os
import time

import pytest

from harness import Cluster, wait_for
from netns import overlaps, writable_intervals

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture
def ns_cluster(request):
    c = Cluster(3, pg=True, netns=True)
    try:
        yield c
    finally:
        c.teardown()
        c.remove_files()


def test_isolated_primary_demotes_before_the_majority_elects_another(ns_cluster):
    c = ns_cluster
    c.start()
    c.wait_leader(timeout=20)
    p = c.wait_pg_ready(timeout=120)
    probes = {}
    for i, m in enumerate(c.members):
        probes[m.name] = os.path.join(c.dir, f"probe-{m.name}.txt")
        c.net.start_probe(i, m.pg_port, probes[m.name])
    p.sql("CREATE TABLE t(x int)")
    p.sql("INSERT INTO t VALUES (1)")
    time.sleep(1)
    idx = c.members.index(p)
    t_cut = time.clock_gettime(time.CLOCK_MONOTONIC)
    c.net.cut(idx)
    others = [m for m in c.members if m is not p]
    new = wait_for(lambda: next((m for m in others if m.get("/primary")[0] == 200), None),
                   c.ttl + 30, interval=0.2, what="the majority elects a new primary")
    time.sleep(2)
    c.net.heal(idx)
    # After healing, the old primary rejoins as a replica of the new one.
    wait_for(lambda: p.role() == "replica" and
             p.patroni()[1].get("replication_state") == "streaming", 120, interval=0.5,
             what="old primary rejoined")
    time.sleep(1)
    iv = {name: writable_intervals(path) for name, path in probes.items()}
    # The old primary was writable until it fenced itself, after the cut.
    old_end = max(e for s, e in iv[p.name])
    assert old_end > t_cut
    new_start = min(s for s, e in iv[new.name] if e > t_cut)
    assert old_end < new_start, (old_end, new_start)
    names = list(iv)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            assert overlaps(iv[names[a]], iv[names[b]]) == 0.0, (names[a], names[b], iv)
    assert new.sql("SELECT count(*) FROM t")[0][0] == 1
    assert "demoting self because the leader lock could not be renewed" in p.log()


def test_isolated_replica_changes_nothing_for_the_primary(ns_cluster):
    c = ns_cluster
    c.start()
    c.wait_leader(timeout=20)
    p = c.wait_pg_ready(timeout=120)
    r = next(m for m in c.members if m is not p)
    c.net.cut(c.members.index(r))
    t0 = time.monotonic()
    while time.monotonic() - t0 < c.ttl + 5:
        assert p.get("/primary")[0] == 200
        p.sql("CREATE TABLE IF NOT EXISTS t(x int); INSERT INTO t VALUES (1)")
        time.sleep(1)
    c.net.heal(c.members.index(r))
    wait_for(lambda: r.patroni()[1].get("replication_state") == "streaming", 60, interval=0.5,
             what="replica back")
