"""Issue 2: three real raftgres daemons on loopback form one Raft cluster.

Each test reads like the operator's story: start the members, look at them through the
REST API and raftgresctl, kill one, restart it, add a fourth.
"""
import json
import os
import signal
import socket
import struct
import time

import pytest

from harness import http, wait_for

# One encoded state-machine entry (docs/state-machine.md): magic 'R', format 1,
# command type, flags, u32 payload length, payload, zero padding to 8 bytes.
NOOP = struct.pack("<BBBBI", 0x52, 1, 1, 0, 0)


def entry(cmd_type, payload=b"", version=1):
    raw = struct.pack("<BBBBI", 0x52, version, cmd_type, 0, len(payload)) + payload
    return raw + b"\0" * (-len(raw) % 8)


def leader_member(c):
    return c.member_by_addr(c.wait_leader())


def test_three_members_elect_one_raft_leader(started):
    c = started
    leader_addr = c.wait_leader()
    states = [m.cluster_state() for m in c.members]
    # Every member sees the same three voters and the same leader, and exactly one of
    # them says it is the leader.
    for st in states:
        assert st["scope"] == "batman"
        assert sorted(x["raft_address"] for x in st["members"]) == sorted(c.partners)
        assert st["raft_leader"]["raft_address"] == leader_addr
    assert sum(1 for m in c.members if m.raft_role() == "leader") == 1
    # Every member registers itself (name, REST API) in the replicated member registry.
    def all_registered():
        return all(sorted(x["name"] or "" for x in m.cluster_state()["members"]) ==
                   ["node1", "node2", "node3"] for m in c.members)
    wait_for(all_registered, 10, what="all members registered")
    st = c.members[1].cluster_state()
    urls = {x["name"]: x["api_url"] for x in st["members"]}
    assert urls["node3"] == c.members[2].api + "/patroni"
    assert "bootstrapped a new cluster" in c.members[0].log()


def test_kill_9_of_the_raft_leader_gives_a_new_leader_within_3s(started):
    c = started
    old = leader_member(c)
    wait_for(lambda: all(x["name"] for x in c.members[0].cluster_state()["members"]), 10,
             what="registration")
    t0 = time.monotonic()
    old.kill()
    survivors = [m for m in c.members if m is not old]

    def new_leader():
        addr = c.leader_view(survivors)
        return addr if addr and addr != old.raft_addr else None

    addr = wait_for(new_leader, 10, interval=0.02, what="a new Raft leader")
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0, f"new leader after {elapsed:.2f}s"
    assert c.member_by_addr(addr).raft_role() == "leader"

    # The killed member, restarted, rejoins from its data dir with its state and never
    # bootstraps again.
    before = old.log().count("bootstrapped a new cluster")
    old.start()
    wait_for(lambda: old.cluster_state()["raft_leader"] is not None, 10, what="rejoin")
    assert old.log().count("bootstrapped a new cluster") == before
    assert "restarting from the existing data" in old.log()
    # Its state machine catches up: it sees every registration, at the leader's revision.
    leader = c.member_by_addr(addr)
    wait_for(lambda: old.cluster_state()["last_applied"] >= leader.cluster_state()["commit_index"] - 2,
             10, what="catch-up")
    names = sorted(x["name"] for x in old.cluster_state()["members"])
    assert names == ["node1", "node2", "node3"]


def test_proposals_from_followers_are_forwarded_to_the_raft_leader(started):
    c = started
    leader = leader_member(c)
    follower = next(m for m in c.members if m is not leader)
    wait_for(lambda: all(x["name"] for x in leader.cluster_state()["members"]), 10,
             what="registration")
    # A follower's registration reached the log through the leader: the follower's
    # member record is there although only the leader may call raft_apply.
    st = leader.cluster_state()
    assert follower.name in [x["name"] for x in st["members"]]
    # A follower refuses to apply a forwarded proposal itself and names the leader.
    status, body, _, _ = http("POST", follower.api + "/raft/propose", NOOP)
    assert status == 503 and body["raft_leader"] == leader.raft_addr
    # The leader applies it.
    rev0 = leader.cluster_state()["revision"]
    status, body, _, _ = http("POST", leader.api + "/raft/propose", NOOP)
    assert status == 200 and body["result"] == "ok", body
    assert body["revision"] > rev0


def test_malformed_entries_are_rejected_and_change_nothing(started):
    c = started
    leader = leader_member(c)
    # Let the members' own registrations settle first: they are entries too.
    wait_for(lambda: all(all(x["name"] for x in m.cluster_state()["members"]) for m in c.members),
             10, what="registration")
    wait_for(lambda: len({m.cluster_state()["revision"] for m in c.members}) == 1, 10,
             what="same revision everywhere")
    before = [m.cluster_state() for m in c.members]
    bad = [
        b"",                                    # empty
        NOOP[:5],                               # truncated header
        NOOP + b"\0" * 3,                       # not padded to 8
        entry(1, version=9),                    # unknown format version
        entry(99),                              # unknown command
        b"\x00" * 8,                            # bad magic
        entry(4, b"\xff\xff\xff\x7f"),          # acquire with a huge string length
        struct.pack("<BBBBI", 0x52, 1, 1, 0, 0) + b"\x01" * 8,  # garbage after the entry
    ]
    for raw in bad:
        status, body, _, _ = http("POST", leader.api + "/raft/propose", raw)
        assert status == 400, (raw, status, body)
        assert "message" in body
    after = [m.cluster_state() for m in c.members]
    # No member crashed, nothing was applied.
    assert all(m.alive() for m in c.members)
    for b, a in zip(before, after):
        assert a["revision"] == b["revision"]


def test_rest_api_answers_json_404_405_and_health(started):
    c = started
    m = c.members[0]
    status, body, _, hdrs = m.get("/no/such/thing")
    assert status == 404 and "no such endpoint" in body["message"]
    assert hdrs["content-type"] == "application/json"
    status, body, _, hdrs = http("POST", m.api + "/cluster", {"x": 1})
    assert status == 405 and "not allowed" in body["message"]
    assert "GET" in hdrs["allow"]
    status, body, _, _ = http("DELETE", m.api + "/health")
    assert status == 405
    for method in ("GET", "OPTIONS", "HEAD"):
        status, body, raw, _ = http(method, m.api + "/health")
        assert status == 200, method
        if method == "HEAD":
            assert raw == b""
    status, body, _, _ = m.get("/health")
    assert body["state"] == "running" and body["raft"]["role"] in ("leader", "follower")
    status, body, _, _ = m.get("/liveness")
    assert status == 200
    st = m.cluster_state()
    for key in ("scope", "members", "raft_leader", "leader_lock", "term", "commit_index"):
        assert key in st
    assert st["leader_lock"] is None  # nobody holds the leader lock before PostgreSQL runs


def test_a_lone_member_answers_but_has_no_leader(cluster):
    """A lone member with no quorum never gets a leader: /health keeps answering."""
    c = cluster
    c.members[0].start()
    wait_for(lambda: c.members[0].get("/health")[0] == 200, 10, what="REST up")
    st = c.members[0].cluster_state()
    assert st["raft_leader"] is None


def test_raftgresctl_list(started):
    c = started
    wait_for(lambda: all(x["name"] for x in c.members[0].cluster_state()["members"]), 10,
             what="registration")
    r = c.ctl("list", "-e")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("+ Cluster: batman (uninitialized)")
    for col in ("Member", "Host", "Role", "State", "TL", "Lag in MB", "Raft role"):
        assert col in lines[1]
    body = [l for l in lines if l.startswith("| node")]
    assert len(body) == 3
    assert sum(1 for l in body if "| leader" in l) == 1
    r = c.ctl("list", "-e", "-f", "json")
    assert r.returncode == 0
    rows = json.loads(r.stdout)
    assert sorted(x["Member"] for x in rows) == ["node1", "node2", "node3"]
    assert sum(1 for x in rows if x["Raft role"] == "leader") == 1
    # Usage errors exit 2, an unreachable cluster exits 1.
    assert c.ctl("list", "-f", "yamlz").returncode == 2
    assert c.ctl("frobnicate").returncode == 2
    for m in c.members:
        m.stop()
    r = c.ctl("list")
    assert r.returncode == 1 and "unreachable" in r.stderr


def test_sigterm_shuts_down_cleanly_and_restart_rejoins(started):
    c = started
    m = c.members[2]
    assert m.stop() == 0
    assert "received SIGTERM" in m.log() and "raftgres stopped" in m.log()
    m.start()
    wait_for(lambda: m.cluster_state()["raft_leader"] is not None, 10, what="rejoin")


def test_fourth_member_catches_up_after_many_entries(started):
    """The padding pitfall: a member that catches up through batches of entries and a
    snapshot must decode them all (libnotes.md)."""
    c = started
    leader = leader_member(c)
    for _ in range(700):  # over the snapshot threshold (512)
        status, body, _, _ = http("POST", leader.api + "/raft/propose", NOOP)
        assert status == 200, body
    m4 = c.new_member("node4")
    c.members.append(m4)
    m4.write_config(c.partners + [m4.raft_addr])
    m4.start("--join")
    wait_for(lambda: m4.get("/health")[0] == 200, 10, what="node4 REST")
    r = c.ctl("add-member", m4.raft_addr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "added as a voter" in r.stdout
    wait_for(lambda: m4.cluster_state()["last_applied"] >= leader.cluster_state()["commit_index"] - 2,
             20, what="node4 catch-up")
    st4 = m4.cluster_state()
    assert len(st4["members"]) == 4
    assert m4.raft_role() == "follower"
    # node4 registers itself through the leader like everybody else.
    wait_for(lambda: "node4" in [x["name"] for x in leader.cluster_state()["members"]], 10,
             what="node4 registered")
    assert m4.get("/health")[1]["raft"]["role"] == "follower"
    # More entries still reach it.
    rev = leader.cluster_state()["revision"]
    for _ in range(20):
        assert http("POST", leader.api + "/raft/propose", NOOP)[0] == 200
    wait_for(lambda: m4.cluster_state()["revision"] >= rev + 20, 10, what="node4 follows")
