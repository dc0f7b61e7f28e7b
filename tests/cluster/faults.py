"""Fault injection with a split-brain and data-loss checker (issue 5).

The rig: three members, each a host in its own network namespace (netns.py), so a partition
is a cut link. HAProxy runs in the test's namespace and routes writes to whichever member
answers /primary, as in production. Two checkers run the whole time:

- a probe inside each member's namespace records every 100 ms whether that member's
  PostgreSQL accepts writes (netns.PROBE): two members writable at once is a split brain;
- a Writer inserts one row per request through HAProxy (autocommit, a fresh id each time)
  and remembers every id PostgreSQL acknowledged: an acknowledged id missing from the
  final primary is a lost write.

A scenario is a function (rig, rng) -> dict of facts about what happened; it asserts what
is particular to it (who must be primary afterwards, what the logs must say) and leaves a
healthy cluster behind (one primary, every other member streaming). Rig.check() then
measures what every scenario must satisfy. tests/cluster/test_faults.py asserts on it;
bench/faults prints it as tables.
"""
import os
import random
import signal
import threading
import time

from harness import Cluster, http, pid_alive, wait_for
from netns import overlaps, writable_intervals


def now():
    return time.monotonic()  # CLOCK_MONOTONIC, the probes' clock


def lsn_int(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


class Writer(threading.Thread):
    """One INSERT per request through HAProxy's write port; ids acknowledged by PostgreSQL
    are kept with the WAL position the row went to."""

    def __init__(self, port, table="acked", pause_s=0.005):
        super().__init__(daemon=True)
        self.port, self.table, self.pause_s = port, table, pause_s
        self.stopping = False
        self.lock = threading.Lock()
        self.events = []  # (t, ok)
        self.acked = {}  # id -> lsn (int)
        self.next_id = 1

    def run(self):
        import psycopg2
        conn = None
        while not self.stopping:
            i = self.next_id
            self.next_id += 1
            t = now()
            try:
                if conn is None:
                    conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                            password="su-pass", dbname="postgres",
                                            connect_timeout=2)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {self.table}(id, lsn) VALUES "
                                "(%s, pg_current_wal_insert_lsn()) RETURNING lsn::text", (i,))
                    lsn = lsn_int(cur.fetchone()[0])
                with self.lock:
                    self.acked[i] = lsn
                    self.events.append((t, True))
            except Exception:  # noqa: BLE001 - any failure is a write not acknowledged
                with self.lock:
                    self.events.append((t, False))
                try:
                    if conn is not None:
                        conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                time.sleep(0.05)
            time.sleep(self.pause_s)

    def snapshot(self):
        with self.lock:
            return dict(self.acked), list(self.events)

    def acks_since(self, t):
        with self.lock:
            return sum(1 for e in self.events if e[1] and e[0] >= t)

    def halt(self):
        self.stopping = True
        self.join(30)


class Rig:
    def __init__(self, sync=True, ttl=20, loop_wait=1):
        self.sync = sync
        dcs = "    synchronous_mode: true\n" if sync else ""
        self.c = Cluster(3, pg=True, netns=True, dcs_extra=dcs, ttl=ttl, loop_wait=loop_wait)
        self.net = self.c.net
        self.ttl = ttl
        self.writer = None
        self.probes = {}
        self.max_lag = 10485760  # harness: maximum_lag_on_failover

    # ---- set-up and tear-down ------------------------------------------------------------

    def start(self):
        c = self.c
        c.start()
        c.wait_leader(timeout=30)
        p = c.wait_pg_ready(timeout=180)
        p.sql("CREATE TABLE IF NOT EXISTS acked(id bigint PRIMARY KEY, lsn pg_lsn)")
        for i, m in enumerate(c.members):
            self.probes[m.name] = os.path.join(c.dir, f"probe-{m.name}.txt")
            self.net.start_probe(i, m.pg_port, self.probes[m.name])
        c.start_haproxy()
        c.wait_routed(c.ha_write_port, "SELECT NOT pg_is_in_recovery()", True)
        self.writer = Writer(c.ha_write_port)
        self.writer.start()
        t = now()
        wait_for(lambda: self.writer.acks_since(t) >= 20, 30, what="the writer's first acks")
        if self.sync:
            wait_for(lambda: self.sync_standby(), 30, what="a synchronous standby")
        return self

    def close(self):
        if self.writer:
            self.writer.halt()
        for m in self.c.members:  # a frozen daemon cannot take its SIGTERM
            if m.alive():
                try:
                    os.kill(m.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.c.teardown()
        self.c.remove_files()

    # ---- looking at the cluster ----------------------------------------------------------

    def primary(self):
        return self.c.primary()

    def replicas(self, p):
        return [m for m in self.c.members if m is not p]

    def sync_standby(self):
        p = self.primary()
        if p is None:
            return None
        # Exactly one: while the key is being changed it may name the old and the new.
        s = [m for m in self.replicas(p) if m.get("/sync")[0] == 200]
        return s[0] if len(s) == 1 else None

    def raft_leader(self):
        addr = self.c.wait_leader(timeout=30, members=[m for m in self.c.members if m.alive()])
        return self.c.member_by_addr(addr)

    def wait_healthy(self, timeout=180):
        p = self.c.wait_pg_ready(timeout=timeout)
        if self.sync:
            wait_for(self.sync_standby, 60, what="a synchronous standby")
        return p

    def wait_writes(self, since, timeout, what="writes through HAProxy resume"):
        wait_for(lambda: self.writer.acks_since(since) >= 5, timeout, interval=0.1, what=what)

    # ---- the checker ---------------------------------------------------------------------

    def check(self, t0, t1=None):
        """Facts for the window [t0, t1]: write outage, failed writes, acknowledged writes
        lost (every id acknowledged so far, read back from the primary), the seconds during
        which two members accepted writes at once."""
        p = self.wait_healthy()
        self.wait_writes(now(), 60, what="writes through HAProxy after recovery")
        t1 = t1 or now()
        acked, events = self.writer.snapshot()
        with open(os.path.join(self.c.dir, "writer-events.txt"), "w") as f:
            f.write("".join(f"{t:.3f} {int(k)}\n" for t, k in events))
        ids = acked.keys()
        present = {r[0] for r in p.sql("SELECT id FROM acked")}
        lost = sorted(i for i in ids if i not in present)
        ok = [t for t, k in events if k]
        before = [t for t in ok if t < t0]
        after = [t for t in ok if t0 <= t <= t1]
        gaps, prev = [], (before[-1] if before else t0)
        for t in after:
            gaps.append(t - prev)
            prev = t
        failed = sum(1 for t, k in events if not k and t0 <= t <= t1)
        iv = {name: [(s, e) for s, e in writable_intervals(path) if e >= t0 and s <= t1]
              for name, path in self.probes.items()}
        names = sorted(iv)
        split = 0.0
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                split += overlaps(iv[names[a]], iv[names[b]])
        # Instants: a probe sample that saw its member writable while another member's
        # probe had it writable too.
        instants = 0
        for a in names:
            for t in writable_samples(self.probes[a], t0, t1):
                if any(s <= t <= e for b in names if b != a for s, e in iv[b]):
                    instants += 1
        lost_bytes = 0
        if lost:
            hist = p.get("/history")[1] or []
            switch = hist[-1][1] if hist else 0
            lost_bytes = max(acked[i] for i in lost) - switch
        return {"outage_s": max(gaps) if gaps else 0.0, "failed": failed, "acked": len(ids),
                "lost": len(lost), "lost_ids": lost[:20], "lost_bytes": lost_bytes,
                "split_brain_s": split, "two_primary_instants": instants, "primary": p.name}


# ---- scenarios ------------------------------------------------------------------------------
# Each returns facts; t_fault (monotonic) marks the injected fault, t_recovered when the
# cluster was healthy again (one primary, the others streaming, writes flowing).

def isolate_primary(rig, rng):
    """The primary is cut off from both replicas (and from HAProxy): it demotes before its
    lease ends, the majority elects a new primary, and after healing the old one rejoins."""
    c = rig.c
    p = rig.primary()
    i = c.members.index(p)
    t_fault = now()
    rig.net.cut(i)
    new = wait_for(lambda: next((m for m in rig.replicas(p) if m.get("/primary")[0] == 200),
                                None), rig.ttl + 30, interval=0.2, what="a new primary")
    rig.wait_writes(now(), 30)
    time.sleep(1)
    rig.net.heal(i)
    rig.wait_healthy()
    t_rec = now()
    assert "demoting self because the leader lock could not be renewed" in p.log()
    return {"t_fault": t_fault, "t_recovered": t_rec, "new_primary": new.name, "old": p.name}


def isolate_replica(rig, rng):
    """A replica is cut off (the synchronous standby, in synchronous mode): the primary
    stays the primary the whole time; writes go on once another standby is synchronous."""
    c = rig.c
    p = rig.primary()
    r = (rig.sync_standby() if rig.sync else None) or rng.choice(rig.replicas(p))
    i = c.members.index(r)
    t_fault = now()
    rig.net.cut(i)
    deadline = now() + rig.ttl + 5
    while now() < deadline:
        assert p.get("/primary")[0] == 200, f"{p.name} stopped being the primary"
        time.sleep(0.5)
    rig.wait_writes(now(), 60)
    rig.net.heal(i)
    rig.wait_healthy()
    assert rig.primary() is p
    return {"t_fault": t_fault, "t_recovered": now(), "cut": r.name}


def kill_raft_leader(rig, rng):
    """The Raft leader, not the primary, dies (SIGKILL of its daemon and PostgreSQL): the
    two others elect a new Raft leader, the primary keeps its lock and never stops."""
    c = rig.c
    p = rig.primary()
    leader = rig.raft_leader()
    if leader is p:
        # Move the primary away from the Raft leader with a switchover.
        cand = (wait_for(rig.sync_standby, 30, what="one synchronous standby") if rig.sync
                else rng.choice(rig.replicas(p)))
        st, body, _, _ = http("POST", p.api + "/switchover",
                              {"leader": p.name, "candidate": cand.name}, timeout=60)
        assert st == 200, (st, body, cand.name, [(m.name, m.get("/sync")[0]) for m in c.members])
        wait_for(lambda: cand.get("/primary")[0] == 200, 60, interval=0.2,
                 what="the switchover")
        rig.wait_healthy()
        p = cand
        leader = rig.raft_leader()
        assert leader is not p
    t_fault = now()
    leader.kill_machine()
    survivors = rig.replicas(leader)
    new_leader = wait_for(lambda: c.leader_view(survivors), 30, what="a new Raft leader")
    deadline = now() + rig.ttl + 5
    while now() < deadline:
        assert p.get("/primary")[0] == 200, f"{p.name} stopped being the primary"
        time.sleep(0.5)
    rig.wait_writes(now(), 60)
    leader.start()
    rig.wait_healthy()
    assert rig.primary() is p
    return {"t_fault": t_fault, "t_recovered": now(), "killed": leader.name,
            "new_raft_leader": new_leader}


def freeze_primary_daemon(rig, rng):
    """The primary's daemon is frozen (SIGSTOP) for 2 x ttl: it can neither renew nor
    demote. The fencer kills the postmaster before the lease ends; a new primary takes over;
    thawed, the old primary rejoins."""
    p = rig.primary()
    pm = p.postmaster_pid()
    t_fault = now()
    os.kill(p.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: not pid_alive(pm), rig.ttl, interval=0.05, what="postmaster fenced")
        t_dead = now()
        new = wait_for(lambda: next((m for m in rig.replicas(p)
                                     if m.get("/primary")[0] == 200), None),
                       rig.ttl + 30, interval=0.05, what="a new primary")
        assert t_dead < now()
        assert t_dead - t_fault < rig.ttl, t_dead - t_fault
        rig.wait_writes(now(), 30)
        time.sleep(max(0.0, 2 * rig.ttl - (now() - t_fault)))
    finally:
        os.kill(p.proc.pid, signal.SIGCONT)
    rig.wait_healthy()
    assert "killing the postmaster" in p.log()
    return {"t_fault": t_fault, "t_recovered": now(), "new_primary": new.name,
            "fenced_after_s": t_dead - t_fault}


def kill_primary_machine(rig, rng):
    """The primary's machine dies (daemon and PostgreSQL SIGKILLed); it comes back later
    and rejoins."""
    p = rig.primary()
    t_fault = now()
    p.kill_machine()
    wait_for(lambda: next((m for m in rig.replicas(p) if m.get("/primary")[0] == 200), None),
             rig.ttl + 30, interval=0.2, what="a new primary")
    rig.wait_writes(now(), 30)
    p.start()
    rig.wait_healthy()
    return {"t_fault": t_fault, "t_recovered": now()}


def full_restart(rig, rng):
    """Every member stops (SIGTERM at once, as `systemctl stop` on every host would), then
    every member starts again: the same member is primary and nothing acknowledged is
    lost."""
    c = rig.c
    p = rig.primary()
    t_fault = now()
    for m in c.members:
        m.proc.send_signal(signal.SIGTERM)
    for m in c.members:
        assert m.proc.wait(60) == 0, f"{m.name} exited with {m.proc.returncode}"
        c.pids.discard(m.proc.pid)
    for m in c.members:
        assert m.postmaster_pid() is None, f"{m.name}'s PostgreSQL still runs"
    for m in c.members:
        m.start()
    rig.wait_healthy()
    rig.wait_writes(now(), 30)
    assert rig.primary() is p, f"{rig.primary().name} is primary, was {p.name}"
    return {"t_fault": t_fault, "t_recovered": now()}


SCENARIOS = {
    "isolate_primary": isolate_primary,
    "isolate_replica": isolate_replica,
    "kill_raft_leader": kill_raft_leader,
    "freeze_primary_daemon": freeze_primary_daemon,
    "kill_primary_machine": kill_primary_machine,
    "full_restart": full_restart,
}


def run(rig, name, rng):
    """Run one scenario and measure it: the scenario's facts plus the checker's."""
    facts = SCENARIOS[name](rig, rng)
    time.sleep(1)
    facts.update(rig.check(facts["t_fault"] - 1))
    facts["recovery_s"] = facts["t_recovered"] - facts["t_fault"]
    facts["scenario"] = name
    return facts


def random_rounds(rig, seed, rounds, log=print):
    """Repeated random faults from a seed: the same seed gives the same sequence."""
    rng = random.Random(seed)
    log(f"random faults: seed {seed}, {rounds} rounds "
        f"(replay with RAFTGRES_FAULT_SEED={seed})")
    out = []
    for k in range(rounds):
        name = rng.choice(sorted(SCENARIOS))
        log(f"round {k + 1}/{rounds}: {name}")
        out.append(run(rig, name, rng))
    return out


def writable_samples(path, t0, t1):
    out = []
    with open(path) as f:
        for line in f:
            try:
                t, w = line.split()
                if int(w) and t0 <= float(t) <= t1:
                    out.append(float(t))
            except ValueError:
                continue
    return out
