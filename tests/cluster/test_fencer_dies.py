"""A fencer that dies (issue: "a fencer that dies, clocks that jump").

The primary's self-fencing process (src/fencer.c) is SIGKILLed. The daemon must log the
exit with its cause, start a new one at once and hand it the last lease deadline and
postmaster PID (src/fence.c), so there is no window without fencing. Then the daemon
freezes (SIGSTOP) for 2 x ttl, as in test_pg_ha.py's frozen-primary test: the new fencer
must kill the postmaster before the lease ends, a replica takes over, and the thawed old
primary rejoins as a replica."""
import os
import re
import signal
import time

from harness import pid_alive, wait_for


def _stat(pid):
    """(comm, state, ppid) of a process from /proc/PID/stat, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])


def fencers_of(daemon_pid):
    """PIDs of the live raftgres-fencer children of a daemon."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat(int(name))
        if st and st[0] == "raftgres-fencer" and st[2] == daemon_pid and st[1] != "Z":
            out.append(int(name))
    return out


def _poll_timeout(pid):
    """The timeout (ms) of the poll() a process is blocked in, from /proc/PID/syscall;
    -1 for none, None when it is not blocked in poll (x86_64: syscall 7)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return None
    if not fields or fields[0] != "7":
        return None
    v = int(fields[3], 16) & 0xffffffff
    return v - (1 << 32) if v & 0x80000000 else v


def test_a_killed_fencer_is_restarted_armed_and_still_fences_a_frozen_primary(running):
    c = running
    p = c.primary_member
    # A replica's fencer has nothing to enforce: it is started again, not armed.
    r = next(m for m in c.members if m is not p)
    rf = wait_for(lambda: fencers_of(r.proc.pid), 10, what="the replica's fencer")[0]
    os.kill(rf, signal.SIGKILL)
    rnew = wait_for(lambda: [f for f in fencers_of(r.proc.pid) if f != rf], 10,
                    what="the replica's new fencer")[0]
    wait_for(lambda: f"self-fencing process started (pid {rnew})" in r.log(), 5,
             what="the replica's new fencer logged")
    assert f"the self-fencing process (pid {rf}) died: killed by signal 9" in r.log()
    assert "re-armed" not in r.log()
    assert _poll_timeout(rnew) in (-1, None)

    daemon = p.proc.pid
    old = wait_for(lambda: fencers_of(daemon), 10, what="the primary's fencer")
    assert len(old) == 1, old
    old = old[0]
    pm = p.postmaster_pid()
    assert pm

    # The fencer dies: logged with its cause, a new one is started and re-armed at once.
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: [f for f in fencers_of(daemon) if f != old], 10,
                   what="a new fencer, child of the daemon")
    assert len(new) == 1 and not pid_alive(old), (new, old)
    new = new[0]
    wait_for(lambda: f"self-fencing process started (pid {new})" in p.log(), 5,
             what="the new fencer's start logged")
    log = p.log()
    assert re.search(rf"the self-fencing process \(pid {old}\) died: killed by signal 9 "
                     r"\(Killed\); starting it again \(restart 1 of \d+\)", log), log[-3000:]
    m = re.search(rf"re-armed the new fencer \(pid {new}\) with the last lease deadline, "
                  rf"(\d+) ms ahead, for the postmaster \(pid {pm}\)", log)
    assert m, log[-3000:]
    assert 0 < int(m.group(1)) <= c.ttl * 1000
    # The re-arm line is written right after the start line, before anything else.
    start_at = log.index(f"self-fencing process started (pid {new})")
    assert log.index("re-armed the new fencer", start_at) - start_at < 200
    # And the new fencer really waits on a deadline (its poll has a finite timeout).
    t = wait_for(lambda: _poll_timeout(new), 5, interval=0.02, what="new fencer in poll()")
    assert 0 < t <= c.ttl * 1000, t
    # The cluster did not notice: same primary, still writable.
    assert p.get("/primary")[0] == 200
    assert p.postmaster_pid() == pm

    # The daemon freezes for 2 x ttl: only the new fencer can stop the old primary.
    survivors = [m for m in c.members if m is not p]
    os.kill(daemon, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        wait_for(lambda: not pid_alive(pm), c.ttl, interval=0.05, what="postmaster fenced")
        t_dead = time.monotonic() - t0
        nxt = wait_for(lambda: next((m for m in survivors if m.get("/primary")[0] == 200),
                                    None),
                       c.ttl + 20, interval=0.05, what="a new primary")
        t_new = time.monotonic() - t0
        assert t_dead < c.ttl, t_dead
        assert t_dead < t_new, (t_dead, t_new)
        assert re.search(r"fencer: lease deadline passed \d+ ms ago without a renew from the "
                         rf"daemon: killing the postmaster \(pid {pm}\)", p.log())
        assert pid_alive(new), "the killing fencer is the restarted one, still running"
        time.sleep(max(0, 2 * c.ttl - (time.monotonic() - t0)))
    finally:
        os.kill(daemon, signal.SIGCONT)
    # Thawed, the old primary sees the new leader and rejoins as its replica.
    wait_for(lambda: p.role() == "replica" and
             p.patroni()[1].get("replication_state") == "streaming", 90, interval=0.3,
             what="old primary rejoined")
    assert nxt.get("/primary")[0] == 200
    assert p.get("/primary")[0] == 503
    assert fencers_of(daemon) == [new], "no further fencer restart"
