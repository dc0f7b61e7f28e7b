"""Clocks that jump (issue: "a fencer that dies, clocks that jump"): wall-clock changes must
not affect leases, every timer is CLOCK_MONOTONIC (docs/safety.md, point 2).

Each daemon runs with tests/cluster/clockshift.c preloaded: its CLOCK_REALTIME,
gettimeofday() and time() are moved by the number of seconds in its own shift file, while
CLOCK_MONOTONIC runs on. (The daemon gives its children, PostgreSQL and the fencer, an
environment of their own, so their clocks stay true; PostgreSQL keeps serving either way.)
The primary's wall clock jumps an hour ahead, then two hours back; the replicas' clocks
jump too, for more than 2 x ttl in all. The same member must stay the only primary, renew
its lease all along and never demote; the log's timestamps prove the jumps took effect."""
import os
import re
import time

import pytest

from harness import BUILD, wait_for

SHIM = os.path.join(BUILD, "tests", "cluster", "libclockshift.so")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) [A-Z]+: (.*)$")


@pytest.fixture
def shifted(pg_cluster):
    """conftest's PostgreSQL cluster, each daemon with the shim and a shift file of its own."""
    c = pg_cluster
    assert os.path.exists(SHIM), f"{SHIM} is missing: build with ninja first"
    for m in c.members:
        m.shift_file = os.path.join(c.dir, f"{m.name}.clockshift")
        set_shift(m, 0)
        m.start(env={"LD_PRELOAD": SHIM, "CLOCKSHIFT_FILE": m.shift_file})
    c.wait_leader(timeout=15)
    c.primary_member = c.wait_pg_ready()
    return c


def set_shift(member, seconds):
    """Move the member's wall clock to true time + seconds (the shim reads it within 0.1 s)."""
    tmp = member.shift_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{seconds}\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, member.shift_file)


def stamped(member, text):
    """Unix times of the member's log lines that contain text, as their timestamps say."""
    out = []
    for line in member.log().splitlines():
        m = STAMP.match(line)
        if m and text in m.group(3):
            out.append(time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) +
                       int(m.group(2)) / 1000)
    return out


def sample(c, p, samples):
    """One look at every member: /primary, /liveness, and the lock as /cluster shows it."""
    t = time.monotonic()
    for m in c.members:
        try:
            primary = m.get("/primary")[0]
        except Exception as e:  # noqa: BLE001 - recorded, asserted on below
            primary = repr(e)
        try:
            liveness = m.get("/liveness")[0]
        except Exception as e:  # noqa: BLE001
            liveness = repr(e)
        try:
            lock = m.cluster_state().get("leader_lock")
        except Exception as e:  # noqa: BLE001
            lock = repr(e)
        samples.append((t, m.name, primary, liveness, lock))


def test_wall_clock_jumps_do_not_touch_the_lease(shifted):
    c = shifted
    p = c.primary_member
    r1, r2 = [m for m in c.members if m is not p]
    pm = p.postmaster_pid()
    log_before = len(p.log())
    # Before any jump the shim is inert: the log's clock is the true one.
    wait_for(lambda: stamped(p, "the leader with the lock"), 10, what="a renew line")
    assert abs(stamped(p, "the leader with the lock")[-1] - time.time()) < 5

    # (offsets per member, how long) - for more than 2 x ttl in all. The Raft leader, which
    # times the lock's expiry, is one of them whichever member it is.
    phase = 0.7 * c.ttl
    plan = [({p: 3600}, phase),
            ({p: -3600, r1: 3600}, phase),
            ({r1: -3600, r2: 3600}, phase)]
    samples, windows = [], []
    for shifts, length in plan:
        for m, s in shifts.items():
            set_shift(m, s)
        time.sleep(0.3)  # the shim re-reads its file every 100 ms
        start = time.time()
        end_at = time.monotonic() + length
        while time.monotonic() < end_at:
            sample(c, p, samples)
            time.sleep(0.5)
        windows.append((dict((m.name, s) for m, s in shifts.items()), start, time.time()))
    assert len(windows) * phase >= 2 * c.ttl

    # The same member was the only primary the whole time, and every HA loop stayed live.
    bad = [s for s in samples if (s[2] == 200) != (s[1] == p.name)]
    assert not bad, bad[:10]
    assert len([s for s in samples if s[1] == p.name]) >= 2 * c.ttl / 0.6
    dead = [s for s in samples if s[3] != 200]
    assert not dead, dead[:10]
    # Every member saw p hold the lock with a lease being renewed: never near running out.
    locks = [s for s in samples if not isinstance(s[4], dict) or s[4].get("holder") != p.name or
             not c.ttl / 2 < s[4].get("lease_remaining", 0) <= c.ttl]
    assert not locks, locks[:10]
    # No demotion, no fencing, no expiry, PostgreSQL never restarted.
    after = p.log()[log_before:]
    for text in ("demoting", "lock could not be renewed", "killing the postmaster",
                 "lease ran out", "leader lock expired"):
        assert text not in after, text
        for m in (r1, r2):
            assert text not in m.log(), (m.name, text)
    assert p.postmaster_pid() == pm
    assert p.cluster_state()["leader_lock"]["holder"] == p.name

    # The jumps took effect: the renew lines of p (and the replicas' follow lines) carry the
    # shifted wall clock in each window, so this test would see a wall-clock lease.
    def shifted_lines(member, text, offset, start, end):
        return [t for t in stamped(member, text) if start + offset - 1 <= t <= end + offset + 1]
    offsets = {m.name: 0 for m in c.members}
    for shifts, start, end in windows:
        offsets.update(shifts)
        lines = shifted_lines(p, "the leader with the lock", offsets[p.name], start, end)
        assert len(lines) >= phase / 2, (offsets, len(lines))
        for m in (r1, r2):
            assert len(shifted_lines(m, "following a leader", offsets[m.name], start,
                                     end)) >= phase / 2, (m.name, offsets)
    assert offsets[p.name] == -3600 and offsets[r1.name] == -3600 and offsets[r2.name] == 3600

    # PostgreSQL still replicates with the clocks moved.
    p.sql("CREATE TABLE after_jump(x int)")
    p.sql("INSERT INTO after_jump VALUES (1)")
    for m in (r1, r2):
        wait_for(lambda: m.sql("SELECT count(*) FROM after_jump")[0][0] == 1, 15,
                 what=f"row on {m.name}")
    assert c.wait_pg_ready(timeout=10) is p
