"""Issue 3: PostgreSQL under management, on real PostgreSQL 15 and a real HAProxy.

The operator's story of the walkthrough: three members bootstrap one primary and two
streaming replicas; HAProxy routes writes to the primary and reads to the replicas by
the members' health endpoints; the primary's machine dies and a replica takes over on
its own; the old primary comes back and rejoins as a replica with pg_rewind."""
import json
import os
import signal
import time

from harness import pid_alive, wait_for


def test_bootstrap_gives_one_primary_and_streaming_replicas(running):
    c = running
    p = c.primary_member
    # Exactly one member answers /primary; the others answer /replica.
    codes = {m.name: (m.get("/primary")[0], m.get("/replica")[0]) for m in c.members}
    assert sorted(codes.values()) == [(200, 503), (503, 200), (503, 200)], codes
    # The state machine agrees: the lock holder is the primary, the sysid is recorded.
    st = p.cluster_state()
    assert st["leader_lock"]["holder"] == p.name
    sysid = st["system_identifier"]
    status, body = p.patroni()
    assert body["role"] == "master" and body["state"] == "running"
    assert body["database_system_identifier"] == sysid
    assert body["patroni"]["scope"] == "batman" and isinstance(body["timeline"], int)
    assert isinstance(body["xlog"]["location"], int)
    # Replication works: a row written on the primary is read on every replica.
    p.sql("CREATE TABLE customer(name text, age integer)")
    p.sql("INSERT INTO customer VALUES ('john', 30), ('dawson', 35)")
    for m in c.members:
        if m is not p:
            wait_for(lambda: m.sql("SELECT count(*) FROM customer")[0][0] == 2, 15,
                     what=f"rows on {m.name}")
            assert m.sql("SELECT pg_is_in_recovery()")[0][0] is True
            body = m.patroni()[1]
            assert body["replication_state"] == "streaming"
            assert body["database_system_identifier"] == sysid
    # bootstrap.users and the replication role exist; the replicas use their slots.
    roles = {r[0] for r in p.sql("SELECT rolname FROM pg_roles")}
    assert {"admin", "replicator"} <= roles
    wait_for(lambda: sorted(r[0] for r in p.sql(
        "SELECT slot_name FROM pg_replication_slots WHERE active")) ==
        sorted(m.name for m in c.members if m is not p), 20, what="active slots")
    # pgpass is private.
    pgpass = os.path.join(p.dir, f"pgpass.{p.name}")
    assert oct(os.stat(pgpass).st_mode & 0o777) == "0o600"
    # Log lines in Patroni's words.
    assert "the leader with the lock" in p.log()
    assert any("a secondary, and following a leader" in m.log() for m in c.members if m is not p)


def test_raftgresctl_list_prints_patronis_columns(running):
    c = running
    p = c.primary_member
    def settled():
        r = c.ctl("list")
        rows = [l for l in r.stdout.splitlines() if l.startswith("| node")]
        return r if len(rows) == 3 and all("running" in l for l in rows) and \
            sum(" 1 " in l for l in rows) == 3 else None
    r = wait_for(settled, 20, what="list settles")
    lines = r.stdout.splitlines()
    sysid = p.cluster_state()["system_identifier"]
    assert lines[0].startswith(f"+ Cluster: batman ({sysid})")
    assert [x.strip() for x in lines[1].strip("|").split("|")] == \
        ["Member", "Host", "Role", "State", "TL", "Lag in MB"]
    leader_row = next(l for l in lines if l.startswith(f"| {p.name} "))
    assert "| Leader " in leader_row
    rows = json.loads(c.ctl("list", "-f", "json").stdout)
    assert sorted(x["Role"] for x in rows) == ["Leader", "Replica", "Replica"]
    assert all(x["State"] == "running" and x["TL"] == 1 for x in rows)


def test_haproxy_routes_writes_to_primary_and_reads_to_replicas(running):
    c = running
    c.start_haproxy()
    p = c.primary_member
    c.wait_routed(c.ha_write_port, "SELECT inet_server_port()", p.pg_port)
    c.sql_via(c.ha_write_port, "CREATE TABLE t(x int)")
    c.sql_via(c.ha_write_port, "INSERT INTO t VALUES (1)")
    c.wait_routed(c.ha_read_port, "SELECT pg_is_in_recovery()", True)
    wait_for(lambda: c.sql_via(c.ha_read_port, "SELECT count(*) FROM t")[0][0] == 1, 20,
             what="read through HAProxy")
    port = c.sql_via(c.ha_write_port, "SELECT inet_server_port()")[0][0]
    assert port == p.pg_port


def test_primary_machine_dies_replica_takes_over_and_old_primary_rejoins(running):
    c = running
    c.start_haproxy()
    old = c.primary_member
    old.sql("CREATE TABLE customer(name text)")
    old.sql("INSERT INTO customer VALUES ('before failover')")
    lsn = old.sql("SELECT pg_current_wal_lsn() - '0/0'")[0][0]
    for m in c.members:
        if m is not old:
            wait_for(lambda: m.sql("SELECT pg_last_wal_replay_lsn() - '0/0'")[0][0] >= lsn, 15,
                     what="replicas caught up")
    t0 = time.monotonic()
    old.kill_machine()
    survivors = [m for m in c.members if m is not old]
    new = wait_for(lambda: next((m for m in survivors if m.get("/primary")[0] == 200), None),
                   c.ttl + 20, interval=0.1, what="a new primary")
    elapsed = time.monotonic() - t0
    # The lock expires ttl after the last renew; nothing should wait much beyond.
    assert elapsed < c.ttl + 10, elapsed
    other = next(m for m in survivors if m is not new)
    assert new.sql("SELECT pg_is_in_recovery()")[0][0] is False
    assert "promoted self to leader by acquiring session lock" in new.log()
    # The data written before the failure is there, and the cluster takes writes again
    # through HAProxy, which now routes to the new primary.
    assert new.sql("SELECT name FROM customer") == [("before failover",)]
    c.wait_routed(c.ha_write_port, "SELECT inet_server_port()", new.pg_port)
    c.sql_via(c.ha_write_port, "INSERT INTO customer VALUES ('after failover')")
    # The other replica follows the new primary.
    wait_for(lambda: other.sql("SELECT count(*) FROM customer")[0][0] == 2, 30,
             what="the other replica follows")
    # History records the switch.
    hist = new.get("/history")[1]
    assert hist and hist[-1][4] == new.name and hist[-1][0] == 1
    # The old primary comes back (its machine restarts) and rejoins as a replica of the
    # new primary, on the new timeline, with no manual step.
    old.start()
    wait_for(lambda: old.role() == "replica" and
             old.patroni()[1].get("replication_state") == "streaming", 60, interval=0.3,
             what="old primary rejoined")
    wait_for(lambda: old.sql("SELECT count(*) FROM customer")[0][0] == 2, 30,
             what="old primary has the new rows")
    assert old.patroni()[1]["timeline"] == new.patroni()[1]["timeline"] == 2
    assert old.get("/primary")[0] == 503


def test_graceful_stop_of_the_primary_hands_over_at_once(running):
    c = running
    old = c.primary_member
    t0 = time.monotonic()
    assert old.stop(timeout=60) == 0
    # PostgreSQL was stopped cleanly and the lock released: no waiting for the ttl.
    assert old.postmaster_pid() is None
    assert "released the leader lock" in old.log()
    survivors = [m for m in c.members if m is not old]
    new = wait_for(lambda: next((m for m in survivors if m.get("/primary")[0] == 200), None),
                   c.ttl, interval=0.1, what="a new primary")
    assert time.monotonic() - t0 < c.ttl / 2
    # Restarted, the old primary comes back as a replica (clean shutdown: no rewind).
    old.start()
    wait_for(lambda: old.role() == "replica" and
             old.patroni()[1].get("replication_state") == "streaming", 60, interval=0.3,
             what="old primary rejoined")


def test_postgres_crash_on_the_primary_restarts_in_place(running):
    c = running
    p = c.primary_member
    pid = p.postmaster_pid()
    os.kill(pid, signal.SIGKILL)
    # Still the lock holder with a valid lease: it restarts PostgreSQL as the primary.
    wait_for(lambda: p.postmaster_pid() not in (None, pid) and p.get("/primary")[0] == 200, 30,
             interval=0.2, what="primary restarted in place")
    assert p.cluster_state()["leader_lock"]["holder"] == p.name
    assert "postmaster exited unexpectedly" in p.log()
    assert all(m.get("/primary")[0] == 503 for m in c.members if m is not p)


def test_primary_without_quorum_demotes_before_its_lease_runs_out(running):
    """The two other members freeze (SIGSTOP): no Raft majority, no renew. The primary
    must stop being writable before the ttl after its last renew, when the others could
    elect a new primary (design.md section 3)."""
    c = running
    p = c.primary_member
    others = [m for m in c.members if m is not p]
    for m in others:
        os.kill(m.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        wait_for(lambda: p.get("/primary")[0] == 503, c.ttl, interval=0.1,
                 what="/primary turns 503")
        t_unhealthy = time.monotonic() - t0
        # PostgreSQL itself stops accepting writes (demoted to a standby, or stopped).
        def read_only():
            try:
                return p.sql("SELECT pg_is_in_recovery()")[0][0] is True
            except Exception:  # noqa: BLE001 - stopped counts as not writable
                return True
        wait_for(read_only, c.ttl, interval=0.1, what="primary no longer writable")
        t_fenced = time.monotonic() - t0
        # Both happen before the ttl since the last renew (at most loop_wait before t0).
        assert t_unhealthy < c.ttl - 1, t_unhealthy
        assert t_fenced < c.ttl - 1, t_fenced
        assert "demoting self because the leader lock could not be renewed" in p.log()
    finally:
        for m in others:
            os.kill(m.proc.pid, signal.SIGCONT)
    # Quorum back: one primary again, and the cluster settles.
    c.wait_pg_ready(timeout=90)


def test_frozen_primary_daemon_is_fenced_before_its_lease_ends(running):
    """The primary's daemon freezes (SIGSTOP) for 2 x ttl: it can neither renew nor demote.
    The self-fencing process, which does not share its loop, kills the postmaster before the
    lease ends; only then does another member take over (issue 5, item 4)."""
    c = running
    p = c.primary_member
    pm = p.postmaster_pid()
    survivors = [m for m in c.members if m is not p]
    os.kill(p.proc.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        wait_for(lambda: not pid_alive(pm), c.ttl, interval=0.05, what="postmaster fenced")
        t_dead = time.monotonic() - t0
        new = wait_for(lambda: next((m for m in survivors if m.get("/primary")[0] == 200), None),
                       c.ttl + 20, interval=0.05, what="a new primary")
        t_new = time.monotonic() - t0
        assert t_dead < c.ttl, t_dead
        assert t_dead < t_new, (t_dead, t_new)
        assert "killing the postmaster" in p.log()
        time.sleep(max(0, 2 * c.ttl - (time.monotonic() - t0)))
    finally:
        os.kill(p.proc.pid, signal.SIGCONT)
    # Thawed, the old primary sees the new leader and rejoins as its replica.
    wait_for(lambda: p.role() == "replica" and
             p.patroni()[1].get("replication_state") == "streaming", 90, interval=0.3,
             what="old primary rejoined")
    assert new.get("/primary")[0] == 200
