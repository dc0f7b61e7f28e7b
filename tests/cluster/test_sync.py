"""Issue 5, synchronous replication (Patroni's synchronous_mode semantics): the primary
records its synchronous standby in the state machine before PostgreSQL relies on it, only a
recorded synchronous standby may be promoted, and no acknowledged commit is lost."""
import os
import signal
import time

import pytest

from harness import wait_for


def ready(c):
    c.start()
    c.wait_leader(timeout=15)
    p = c.wait_pg_ready()
    def one_sync():
        st = p.cluster_state()
        sync = [m["name"] for m in st["members"] if m.get("role") == "sync_standby"]
        return sync[0] if len(sync) == 1 else None
    name = wait_for(one_sync, 30, interval=0.2, what="one synchronous standby recorded")
    return p, next(m for m in c.members if m.name == name)


def test_sync_standby_is_recorded_and_used(sync_cluster):
    c = sync_cluster
    p, s = ready(c)
    rows = p.sql("SELECT application_name, sync_state FROM pg_stat_replication")
    states = dict(rows)
    wait_for(lambda: dict(p.sql("SELECT application_name, sync_state FROM pg_stat_replication"))
             .get(s.name) == "sync", 20, what="PostgreSQL uses the recorded standby")
    assert p.sql("SHOW synchronous_standby_names")[0][0] == f'FIRST 1 ("{s.name}")'
    other = next(m for m in c.members if m not in (p, s))
    # Each member answers from its own copy of the state: it applies the entry within a
    # Raft heartbeat of the primary.
    wait_for(lambda: s.get("/sync")[0] == 200, 5, what="/sync on the sync standby")
    assert other.get("/sync")[0] == 503
    assert other.get("/async")[0] == 200 and s.get("/async")[0] == 503
    assert p.get("/sync")[0] == 503
    del states


def test_only_the_sync_standby_is_promoted_and_no_commit_is_lost(sync_cluster):
    c = sync_cluster
    p, s = ready(c)
    wait_for(lambda: dict(p.sql("SELECT application_name, sync_state FROM pg_stat_replication"))
             .get(s.name) == "sync", 20, what="sync in use")
    p.sql("CREATE TABLE acked(id int)")
    for i in range(200):
        p.sql(f"INSERT INTO acked VALUES ({i})")  # each acknowledged only after the sync copy
    p.kill_machine()
    survivors = [m for m in c.members if m is not p]
    new = wait_for(lambda: next((m for m in survivors if m.get("/primary")[0] == 200), None),
                   c.ttl + 25, interval=0.1, what="a new primary")
    assert new is s, f"{new.name} promoted, but the synchronous standby was {s.name}"
    assert new.sql("SELECT count(*) FROM acked")[0][0] == 200


def test_strict_mode_blocks_writes_without_a_sync_standby(strict_cluster):
    c = strict_cluster
    p, s = ready(c)
    p.sql("CREATE TABLE t(x int)")
    for m in c.members:
        if m is not p:
            m.kill_machine()
    # No synchronous standby left: a write waits instead of being acknowledged alone.
    time.sleep(3)
    with pytest.raises(Exception):
        p.sql("SET statement_timeout = '3s'; INSERT INTO t VALUES (1)")
    # It was never acknowledged; once a standby is back, writes flow again.
    s.start()
    wait_for(lambda: p.sql("SET statement_timeout = '3s'; INSERT INTO t VALUES (2)") is None or True,
             60, interval=1, what="writes accepted again")


def test_switchover_in_synchronous_mode_goes_to_the_sync_standby_only(sync_cluster):
    """Patroni's rule: in synchronous_mode a switchover candidate must be a synchronous
    standby (412 otherwise); without a candidate, the synchronous standby is chosen."""
    from harness import http
    c = sync_cluster
    p, s = ready(c)
    other = next(m for m in c.members if m not in (p, s))
    st, body, _, _ = http("POST", p.api + "/switchover",
                          {"leader": p.name, "candidate": other.name})
    assert st == 412 and body["message"] == "candidate name does not match with sync_standby"
    assert p.get("/primary")[0] == 200
    st, body, _, _ = http("POST", p.api + "/switchover", {"leader": p.name}, timeout=60)
    assert st == 200, body
    wait_for(lambda: s.get("/primary")[0] == 200, 30, interval=0.2, what="sync standby promoted")
