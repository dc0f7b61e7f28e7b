"""Issue 2, lease timing on real members (design.md section 3): the Raft leader expires
a leader lock that nobody renews, never before its ttl, and a new Raft leader restarts
every lease timer at a full ttl.

Nothing acquires the lock in this foundation yet (the HA loop comes with PostgreSQL), so
the test plays the holder by posting encoded entries to the internal proposal endpoint,
exactly as a member's daemon does."""
import struct
import time

from harness import http, wait_for


def s(text):
    b = text.encode()
    return struct.pack("<I", len(b)) + b + b"\0"


def entry(cmd_type, payload):
    raw = struct.pack("<BBBBI", 0x52, 1, cmd_type, 0, len(payload)) + payload
    return raw + b"\0" * (-len(raw) % 8)


def acquire(name, ttl_ms):
    return entry(4, s(name) + struct.pack("<I", ttl_ms))


def renew(name, version, ttl_ms):
    return entry(5, s(name) + struct.pack("<QI", version, ttl_ms))


def propose(member, raw):
    status, body, _, _ = http("POST", member.api + "/raft/propose", raw)
    assert status == 200, body
    return body


def lock_of(member):
    return member.cluster_state()["leader_lock"]


def test_unrenewed_lock_expires_after_ttl_never_before(started):
    c = started
    leader = c.member_by_addr(c.wait_leader())
    t0 = time.monotonic()
    res = propose(leader, acquire("ghost", 3000))
    assert res["result"] == "ok"
    # Every member sees the holder, with a lease of at most the ttl.
    for m in c.members:
        lk = wait_for(lambda: lock_of(m), 5, what="lock visible")
        assert lk["holder"] == "ghost" and 0 < lk["lease_remaining"] <= 3.0
    # A second acquire is refused while it is held (CAS on the empty lock).
    assert propose(leader, acquire("intruder", 3000))["result"] == "conflict"
    wait_for(lambda: lock_of(leader) is None, 10, interval=0.02, what="expiry")
    elapsed = time.monotonic() - t0
    assert elapsed >= 3.0, f"lock expired after {elapsed:.2f}s, before its ttl"
    assert "ran out" in leader.log()
    # After expiry another member may take it.
    assert propose(leader, acquire("node2", 3000))["result"] == "ok"


def test_renew_pushes_expiry_back(started):
    c = started
    leader = c.member_by_addr(c.wait_leader())
    v = propose(leader, acquire("ghost", 3000))["version"]
    time.sleep(2.0)
    t_renew = time.monotonic()
    res = propose(leader, renew("ghost", v, 3000))
    assert res["result"] == "ok" and res["version"] > v
    # A renew with the old version is a conflict: only the latest holder's renew counts.
    assert propose(leader, renew("ghost", v, 3000))["result"] == "conflict"
    wait_for(lambda: lock_of(leader) is None, 10, interval=0.02, what="expiry")
    assert time.monotonic() - t_renew >= 3.0


def test_new_raft_leader_restarts_lease_timers_at_full_ttl(started):
    c = started
    leader = c.member_by_addr(c.wait_leader())
    propose(leader, acquire("ghost", 4000))
    for m in c.members:
        wait_for(lambda: lock_of(m), 5, what="lock replicated")
    time.sleep(1.5)
    t_kill = time.monotonic()
    leader.kill()
    survivors = [m for m in c.members if m is not leader]
    new_addr = wait_for(lambda: (lambda a: a if a and a != leader.raft_addr else None)(
        c.leader_view(survivors)), 10, what="new Raft leader")
    new = c.member_by_addr(new_addr)
    wait_for(lambda: lock_of(new) is None, 15, interval=0.02, what="expiry by the new leader")
    # The old leader's timer had 2.5 s left; the new one starts a full 4 s when elected.
    assert time.monotonic() - t_kill >= 4.0
    assert "ran out" in new.log()
