"""Issue 4: control through the REST API with Patroni's paths, bodies and status codes:
switchover (now and scheduled), failover, pause/resume, dynamic configuration, restart,
reinitialize, and every error case answered with its status and a JSON message."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from harness import http, wait_for


@pytest.fixture
def running(pg_cluster):
    c = pg_cluster
    # node3 may never become the primary.
    c.members[2].write_config(c.partners, extra_yaml="tags:\n  nofailover: true\n")
    c.start()
    c.wait_leader(timeout=15)
    c.primary_member = c.wait_pg_ready()
    # The registry knows every member's PostgreSQL state before the tests ask for checks.
    wait_for(lambda: all(x.get("state") == "running" for m in c.members
                         for x in m.cluster_state()["members"]), 30,
             what="registry settled on every member")
    return c


def post(member, path, body, method="POST", raw=None):
    return http(method, member.api + path, raw if raw is not None else
                json.dumps(body).encode(), headers={"Content-Type": "application/json"},
                timeout=90)


def eligible_replica(c):
    return next(m for m in c.members if m is not c.primary_member and m.name != "node3")


def test_switchover_via_rest_moves_the_primary_without_rewind(running):
    c = running
    old = c.primary_member
    new = eligible_replica(c)
    old.sql("CREATE TABLE t(x int)")
    old.sql("INSERT INTO t SELECT generate_series(1, 1000)")
    # Sent to a member that is neither the old nor the new primary: any member will do.
    status, body, _, _ = post(c.members[2], "/switchover",
                              {"leader": old.name, "candidate": new.name})
    assert status == 200, body
    assert body["message"] == f'Successfully switched over to "{new.name}"'
    assert new.get("/primary")[0] == 200 and old.get("/primary")[0] == 503
    # Nothing acknowledged was lost; the old primary follows the new one, no pg_rewind.
    assert new.sql("SELECT count(*) FROM t")[0][0] == 1000
    wait_for(lambda: old.role() == "replica" and
             old.patroni()[1].get("replication_state") == "streaming", 60, interval=0.3,
             what="old primary streams from the new one")
    assert "running pg_rewind" not in old.log()
    assert "manual failover: demoting myself" in old.log()
    assert c.primary_member.cluster_state()["leader_lock"]["holder"] == new.name


def test_scheduled_switchover_fires_at_its_time_and_can_be_cancelled(running):
    c = running
    old = c.primary_member
    new = eligible_replica(c)
    at = (datetime.now(timezone.utc) + timedelta(seconds=300)).isoformat()
    status, body, _, _ = post(old, "/switchover",
                              {"leader": old.name, "candidate": new.name, "scheduled_at": at})
    assert status == 202, body
    assert "scheduled" in body["message"].lower()
    # Visible everywhere, and a second request is refused while one is pending? (Patroni
    # answers 503 "Failover already scheduled"); cancel it.
    status, body, _, _ = http("DELETE", old.api + "/switchover")
    assert status == 200, body
    status, body, _, _ = http("DELETE", old.api + "/switchover")
    assert status == 404
    # Now one 3 seconds ahead: it fires by itself.
    at = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
    status, body, _, _ = post(new, "/switchover",
                              {"leader": old.name, "candidate": new.name, "scheduled_at": at})
    assert status == 202, body
    time.sleep(1)
    assert old.get("/primary")[0] == 200  # not before its time
    wait_for(lambda: new.get("/primary")[0] == 200, 40, interval=0.2, what="scheduled switchover")


def test_switchover_to_a_nofailover_or_unknown_candidate_is_refused(running):
    c = running
    old = c.primary_member
    for cand in ("node3", "nosuchnode"):
        status, body, _, _ = post(old, "/switchover", {"leader": old.name, "candidate": cand})
        assert status == 412, (cand, body)
        assert body["message"]
    status, body, _, _ = post(old, "/switchover", {"leader": "node3", "candidate": "node1"})
    assert status == 412  # leader mismatch
    assert old.get("/primary")[0] == 200  # nothing changed


def test_failover_to_a_named_candidate(running):
    c = running
    old = c.primary_member
    new = eligible_replica(c)
    status, body, _, _ = post(c.members[2], "/failover", {"candidate": new.name})
    assert status == 200, body
    assert new.get("/primary")[0] == 200


def test_rest_errors_answer_json_and_change_nothing(running):
    c = running
    p = c.primary_member
    config_before = p.get("/config")[1]
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    naive = datetime.now().strftime("%Y-%m-%dT%H:%M")
    cases = [
        ("/switchover", b"{not json", 400),
        ("/switchover", json.dumps({"leader": 5}).encode(), 400),
        ("/switchover", json.dumps({"leader": p.name, "candidate": "node1",
                                    "scheduled_at": past}).encode(), 422),
        # Patroni 3.0: a schedule without a timezone is a 400.
        ("/switchover", json.dumps({"leader": p.name, "candidate": "node1",
                                    "scheduled_at": naive}).encode(), 400),
        ("/failover", json.dumps({"candidate": "node1", "scheduled_at": past}).encode(), 400),
        ("/config", b"[1, 2]", 400),
        ("/reinitialize", b"{bad", 400),
        ("/restart", json.dumps({"role": "king"}).encode(), 400),
    ]
    for path, raw, expect in cases:
        method = "PATCH" if path == "/config" else "POST"
        status, body, _, hdrs = http(method, p.api + path, raw,
                                     headers={"Content-Type": "application/json"})
        assert status == expect, (path, raw, status, body)
        assert hdrs["content-type"] == "application/json" and body["message"], body
    status, body, _, _ = http("POST", p.api + "/switchover", b"x" * (70 * 1024))
    assert status == 413 and body["message"]
    status, body, _, _ = http("PATCH", p.api + "/config", json.dumps({"ttl": 5}).encode())
    assert status in (400, 422) and "ttl" in body["message"]
    time.sleep(0.5)
    # Nothing changed: same dynamic config, same primary, no request pending.
    assert p.get("/config")[1] == config_before
    st = p.cluster_state()
    assert st["leader_lock"]["holder"] == p.name and not st["pause"]
    assert "scheduled_switchover" not in st
    assert p.get("/primary")[0] == 200


def test_pause_prevents_failover_and_resume_restores_it(running):
    c = running
    old = c.primary_member
    status, body, _, _ = post(old, "/config", {"pause": True}, method="PATCH")
    assert status == 200 and body["pause"] is True
    wait_for(lambda: all(m.patroni()[1].get("pause") for m in c.members), 10, what="paused")
    old.kill_machine()
    survivors = [m for m in c.members if m is not old]
    time.sleep(c.ttl + 5)
    assert all(m.get("/primary")[0] == 503 for m in survivors)  # nobody took over
    status, body, _, _ = post(survivors[0], "/config", {"pause": None}, method="PATCH")
    assert status == 200 and "pause" not in body
    wait_for(lambda: any(m.get("/primary")[0] == 200 for m in survivors), c.ttl + 20,
             interval=0.2, what="failover after resume")


def test_dynamic_config_reaches_every_member_and_restart_clears_pending(running):
    c = running
    p = c.primary_member
    status, body, _, _ = post(p, "/config",
                              {"postgresql": {"parameters": {"max_connections": 41}}},
                              method="PATCH")
    assert status == 200, body
    assert body["postgresql"]["parameters"]["max_connections"] == 41
    assert body["ttl"] == c.ttl  # other keys kept (merge patch)
    for m in c.members:
        wait_for(lambda: m.get("/config")[1]["postgresql"]["parameters"]["max_connections"] == 41,
                 10, what=f"config on {m.name}")
        # max_connections needs a restart: every member shows it pending.
        wait_for(lambda: m.patroni()[1].get("pending_restart") is True, 20,
                 what=f"pending restart on {m.name}")
    for m in c.members:
        status, body, _, _ = post(m, "/restart", {"restart_pending": True})
        assert status == 200, body
        assert m.sql("SHOW max_connections")[0][0] == "41"
        wait_for(lambda: not m.patroni()[1].get("pending_restart"), 20, what="pending cleared")
    assert c.primary() is p


def test_reinitialize_rebuilds_a_replica(running):
    c = running
    p = c.primary_member
    r = eligible_replica(c)
    status, body, _, _ = post(p, "/reinitialize", {})
    assert status == 503  # the leader cannot be reinitialized
    p.sql("CREATE TABLE before_reinit(x int)")
    status, body, _, _ = post(r, "/reinitialize", {"force": True})
    assert status == 200, body
    wait_for(lambda: "trying to bootstrap from leader" in r.log().split("reinitializing")[-1], 30,
             what="re-clone")
    wait_for(lambda: r.role() == "replica" and
             r.patroni()[1].get("replication_state") == "streaming", 60, interval=0.3,
             what="replica rebuilt")
    assert r.sql("SELECT count(*) FROM pg_class WHERE relname = 'before_reinit'")[0][0] == 1


def test_scheduled_restart_runs_at_its_time_and_can_be_cancelled(running):
    c = running
    r = eligible_replica(c)
    pid = r.postmaster_pid()
    at = (datetime.now(timezone.utc) + timedelta(seconds=300)).isoformat()
    status, body, _, _ = post(r, "/restart", {"schedule": at})
    assert status == 202, body
    status, body, _, _ = post(r, "/restart", {"schedule": at})
    assert status == 409  # one at a time
    status, body, _, _ = http("DELETE", r.api + "/restart")
    assert status == 200
    assert http("DELETE", r.api + "/restart")[0] == 404
    at = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
    status, body, _, _ = post(r, "/restart", {"schedule": at})
    assert status == 202, body
    time.sleep(1.5)
    assert r.postmaster_pid() == pid  # not before its time
    wait_for(lambda: r.postmaster_pid() not in (None, pid) and r.role() == "replica", 30,
             interval=0.2, what="scheduled restart")
