"""raftgresctl as an operator uses patronictl: on a real three-member cluster with
PostgreSQL, the walkthrough's commands and dialogues, answered through a pseudo-terminal
where patronictl would ask a question."""
import json
import os
import signal
import subprocess
import time

import yaml

from harness import RAFTGRESCTL, ctl_pty, wait_for


def member_rows(stdout):
    return [[x.strip() for x in l.strip("|").split("|")] for l in stdout.splitlines()
            if l.startswith("| node") or l.startswith("| + node")]


def settled(c):
    """list shows three running members on one timeline."""
    def ok():
        r = c.ctl("list", "-f", "json")
        rows = json.loads(r.stdout) if r.returncode == 0 else []
        return rows if len(rows) == 3 and all(x["State"] in ("running", "streaming")
                                              for x in rows) else None
    return wait_for(ok, 30, interval=0.3, what="three running members in list")


# ---- without a cluster ---------------------------------------------------------------------

def test_usage_errors_exit_2_and_unreachable_exits_1(cluster):
    c = cluster  # configured, never started: nothing answers
    for args in (["no-such-command"], ["list", "--no-such-option"], ["list", "-f", "xml"],
                 ["list", "-w", "soon"], ["restart", "-r", "king"], ["flush"],
                 ["flush", "batman", "everything"], ["add-member"],
                 ["switchover", "a", "b"]):
        r = c.ctl(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Error: " in r.stderr and "Usage: raftgresctl" in r.stderr, (args, r.stderr)
    r = c.ctl("list", "-f", "xml")
    assert "Invalid value for '--format' / '-f': 'xml' is not one of" in r.stderr
    r = c.ctl("restart", "--role", "king")
    assert "'king' is not one of 'leader', 'primary'" in r.stderr
    # No config at all is a usage error too.
    r = subprocess.run([RAFTGRESCTL, "list"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "RAFTGRES_CONFIG_FILE" in r.stderr
    # --help for every command, exit 0.
    for cmd in ("list", "topology", "switchover", "failover", "restart", "reload", "reinit",
                "pause", "resume", "edit-config", "show-config", "history", "flush",
                "version", "add-member"):
        r = c.ctl(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"Usage: raftgresctl {cmd} "), cmd
        assert "--help" in r.stdout
    assert "--candidate TEXT" in c.ctl("switchover", "--help").stdout
    # Unreachable: every command that needs the cluster says so and exits 1.
    for args in (["list"], ["history"], ["show-config"], ["pause"], ["switchover", "--force"],
                 ["edit-config", "-p", "max_connections=101", "--force"]):
        r = c.ctl(*args, timeout=60)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "Error: " in r.stderr, (args, r.stderr)
    r = c.ctl("version")
    assert r.returncode == 0 and r.stdout.startswith("raftgresctl version ")


# ---- reading the cluster --------------------------------------------------------------------

def test_list_formats_watch_topology_history_show_config(running):
    c = running
    p = c.primary_member
    rows = settled(c)
    sysid = p.cluster_state()["system_identifier"]
    # json: patronictl's keys; empty values left out (the leader has no lag).
    assert sorted(r["Member"] for r in rows) == ["node1", "node2", "node3"]
    lead = next(r for r in rows if r["Member"] == p.name)
    assert lead["Role"] == "Leader" and lead["Cluster"] == "batman" and "Lag in MB" not in lead
    assert isinstance(lead["TL"], int)
    assert all(r["Role"] == "Replica" and r["Lag in MB"] == 0 for r in rows if r is not lead)
    # yaml: the same list
    r = c.ctl("list", "-f", "yaml")
    assert r.returncode == 0
    assert yaml.safe_load(r.stdout) == rows
    # tsv: a header and one line per member, every column including Cluster
    r = c.ctl("list", "-f", "tsv")
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[:7] == ["Cluster", "Member", "Host", "Role", "State", "TL",
                                        "Lag in MB"]
    assert len(lines) == 4 and all(l.startswith("batman\tnode") for l in lines[1:])
    # pretty: the walkthrough's table, title with the system identifier
    r = c.ctl("list")
    out = r.stdout.splitlines()
    assert out[0].startswith(f"+ Cluster: batman ({sysid}) -")
    assert [x.strip() for x in out[1].strip("|").split("|")][:6] == \
        ["Member", "Host", "Role", "State", "TL", "Lag in MB"]
    assert "Maintenance mode" not in r.stdout
    # watch: -w 0.5 redraws until interrupted
    w = subprocess.Popen([RAFTGRESCTL, "-c", c.members[0].config, "list", "-w", "0.5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.2)
    w.send_signal(signal.SIGINT)
    stdout, stderr = w.communicate(timeout=10)
    assert stdout.count("+ Cluster: batman") >= 3, stdout
    assert w.returncode == 1 and "Aborted!" in stderr
    # -W: every 2 seconds (one table within the first second)
    w = subprocess.Popen([RAFTGRESCTL, "-c", c.members[0].config, "list", "-W"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    w.send_signal(signal.SIGINT)
    stdout, _ = w.communicate(timeout=10)
    assert stdout.count("+ Cluster: batman") == 1, stdout
    # topology: the leader first, replicas under it
    r = c.ctl("topology")
    trows = member_rows(r.stdout)
    assert trows[0][0] == p.name and all(x[0].startswith("+ node") for x in trows[1:]), r.stdout
    # history: Patroni's columns (no switchover yet: possibly no rows)
    r = c.ctl("history")
    assert r.returncode == 0
    assert [x.strip() for x in r.stdout.splitlines()[1].strip("|").split("|")] == \
        ["TL", "LSN", "Reason", "Timestamp", "New Leader"]
    r = c.ctl("history", "-f", "json")
    assert isinstance(json.loads(r.stdout), list)
    # show-config: the dynamic configuration as YAML, equal to GET /config
    r = c.ctl("show-config")
    assert r.returncode == 0
    shown = yaml.safe_load(r.stdout)
    status, body, _, _ = p.get("/config")
    assert status == 200 and shown == body
    assert shown["ttl"] == c.ttl and shown["loop_wait"] == c.loop_wait
    # the cluster name argument must be this config's scope
    assert c.ctl("list", "batman").returncode == 0
    r = c.ctl("list", "robin")
    assert r.returncode == 1 and "robin" in r.stderr


# ---- switchover --------------------------------------------------------------------------------

def test_interactive_switchover_dialogue(running):
    c = running
    p = c.primary_member
    settled(c)
    others = sorted(m.name for m in c.members if m is not p)
    target = others[0]

    # 1. The walkthrough's questions in its order; a wrong candidate is asked again; 'N' at
    #    the confirmation aborts with exit 1 and nothing changes.
    t = ctl_pty(c, "switchover")
    t.expect(f"Primary [{p.name}]: ")
    t.send("")
    t.expect(f"Candidate {others!r} []: ".replace('"', "'"))
    t.send("node9")
    t.expect("Member node9 does not exist in cluster batman")
    t.expect(f"Candidate {others!r} []: ".replace('"', "'"))
    t.send(target)
    t.expect("When should the switchover take place (e.g. ")
    t.expect(" )  [now]: ")
    t.send("now")
    t.expect("Current cluster topology\n+ Cluster: batman (")
    t.expect(f"Are you sure you want to switchover cluster batman, demoting current primary "
             f"{p.name}? [y/N]: ")
    t.send("N")
    t.expect("Error: Aborting switchover")
    assert t.wait() == 1
    assert c.primary() is p

    # 2. An answer that is neither yes nor no is asked again; then yes.
    t = ctl_pty(c, "switchover")
    t.expect(f"Primary [{p.name}]: ")
    t.send(p.name)
    t.expect("Candidate ")
    t.expect(" []: ")
    t.send(target)
    t.expect(" [now]: ")
    t.send("")
    t.expect("[y/N]: ")
    t.send("perhaps")
    t.expect("Error: invalid input")
    t.expect("[y/N]: ")
    t.send("y")
    line = t.expect(f'Successfully switched over to "{target}"', timeout=90)
    # "<timestamp> Successfully ...": 2021-09-23 14:56:40.54009
    stamp = line.strip().splitlines()[-1].strip()
    assert len(stamp) == 25 and stamp[4] == "-" and stamp[19] == ".", repr(stamp)
    t.expect("+ Cluster: batman (")
    assert t.wait(60) == 0
    new = wait_for(lambda: c.primary(), 60, what="a primary after the switchover")
    assert new.name == target
    # The history records it.
    wait_for(lambda: any(r["New Leader"] == target
                         for r in json.loads(c.ctl("history", "-f", "json").stdout)), 30,
             what="history line for the switchover")


def test_noninteractive_switchover_and_failover(running):
    c = running
    p = c.primary_member
    settled(c)
    cand = sorted(m.name for m in c.members if m is not p)[1]
    # wrong leader: refused, exit 1, nothing changes
    r = c.ctl("switchover", "--leader", cand, "--candidate", p.name, "--force")
    assert r.returncode == 1 and f"Member {cand} is not the leader of cluster batman" in r.stderr
    r = c.ctl("switchover", "--primary", p.name, "--candidate", "node9", "--force")
    assert r.returncode == 1 and "Member node9 does not exist in cluster batman" in r.stderr
    r = c.ctl("switchover", "--leader", p.name, "--candidate", cand, "--force", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f'Successfully switched over to "{cand}"' in r.stdout
    assert r.stdout.startswith("Current cluster topology\n")
    new = wait_for(lambda: c.primary(), 60, what="new primary")
    assert new.name == cand
    c.wait_pg_ready(90)
    settled(c)
    # failover without a candidate is refused; with one it works.
    r = c.ctl("failover", "--force")
    assert r.returncode == 1 and "Failover could be performed only to a specific candidate" \
        in r.stderr
    r = c.ctl("failover", "--candidate", p.name, "--force", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert p.name in r.stdout
    wait_for(lambda: c.primary() is p, 60, what="failover back to the first primary")


def test_interactive_failover_asks_candidate_and_confirms(running):
    c = running
    p = c.primary_member
    settled(c)
    others = sorted(m.name for m in c.members if m is not p)
    t = ctl_pty(c, "failover")
    t.expect("Candidate ")
    t.expect(" []: ")
    t.send("")  # failover needs a candidate: asked again
    t.expect("Failover could be performed only to a specific candidate")
    t.expect(" []: ")
    t.send(others[1])
    t.expect("Current cluster topology")
    t.expect("Are you sure you want to failover cluster batman")
    t.expect("[y/N]: ")
    t.send("n")
    t.expect("Aborting failover")
    assert t.wait() == 1
    assert c.primary() is p


# ---- pause, resume, edit-config ----------------------------------------------------------------

def test_pause_resume_wait_and_maintenance_footer(running):
    c = running
    settled(c)
    r = c.ctl("pause", "--wait", timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["'pause' request sent, waiting until it is recognized by "
                                     "all nodes", "Success: cluster management is paused"]
    for m in c.members:
        assert m.patroni()[1].get("pause") is True, m.name
    r = c.ctl("list")
    assert r.stdout.rstrip("\n").splitlines()[-1] == " Maintenance mode: on"
    assert "Maintenance mode" not in c.ctl("list", "-f", "json").stdout
    r = c.ctl("pause")
    assert r.returncode == 1 and "Error: Cluster is already paused" in r.stderr
    r = c.ctl("resume", "--wait", timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.splitlines()[-1] == "Success: cluster management is resumed"
    for m in c.members:
        assert not m.patroni()[1].get("pause"), m.name
    assert "Maintenance mode" not in c.ctl("list").stdout
    r = c.ctl("resume")
    assert r.returncode == 1 and "Error: Cluster is not paused" in r.stderr


def test_edit_config_reaches_every_member(running):
    c = running
    settled(c)
    r = c.ctl("edit-config", "-p", "max_connections=101", "--force")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "-    max_connections: 30" in r.stdout or "+    max_connections: 101" in r.stdout, \
        r.stdout
    assert r.stdout.splitlines()[-1] == "Configuration changed"
    for m in c.members:
        wait_for(lambda: m.get("/config")[1]["postgresql"]["parameters"]["max_connections"]
                 == 101, 15, what=f"max_connections on {m.name}")
    # The same change again: nothing to do.
    r = c.ctl("edit-config", "-p", "max_connections=101", "--force")
    assert r.returncode == 0 and r.stdout.strip() == "Not changed"
    # -s with a dotted path, and a value that reads as YAML.
    r = c.ctl("edit-config", "-s", "postgresql.parameters.work_mem='8MB'", "-s",
              "maximum_lag_on_failover=2097152", "--force")
    assert r.returncode == 0, r.stderr
    conf = wait_for(lambda: (lambda x: x if x["maximum_lag_on_failover"] == 2097152 else None)(
        c.members[2].get("/config")[1]), 15, what="the change on node3")
    assert conf["postgresql"]["parameters"]["work_mem"] == "8MB"
    # Declining the confirmation changes nothing.
    t = ctl_pty(c, "edit-config", "-s", "ttl=25")
    t.expect("+ttl: 25")
    t.expect("Apply these changes? [y/N]: ")
    t.send("n")
    t.wait()
    assert c.members[1].get("/config")[1]["ttl"] == c.ttl
    # $EDITOR: a script that edits the file in place.
    ed = os.path.join(c.dir, "editor.sh")
    with open(ed, "w") as f:
        f.write("#!/bin/sh\nsed -i 's/^retry_timeout: .*/retry_timeout: 4/' \"$1\"\n")
    os.chmod(ed, 0o755)
    t = ctl_pty(c, "edit-config", env={"EDITOR": ed})
    t.expect("+retry_timeout: 4")
    t.expect("Apply these changes? [y/N]: ")
    t.send("y")
    t.expect("Configuration changed")
    assert t.wait() == 0
    wait_for(lambda: c.members[0].get("/config")[1]["retry_timeout"] == 4, 15,
             what="retry_timeout 4 on node1")
    # show-config agrees
    assert yaml.safe_load(c.ctl("show-config").stdout)["retry_timeout"] == 4
    # A value the daemon refuses: exit 1 with its message.
    r = c.ctl("edit-config", "-s", "ttl=5", "--force")
    assert r.returncode == 1 and "ttl" in r.stderr, (r.stdout, r.stderr)


# ---- scheduled events, restart, reload, reinit ---------------------------------------------

def test_scheduled_switchover_footer_and_flush(running):
    c = running
    p = c.primary_member
    settled(c)
    cand = sorted(m.name for m in c.members if m is not p)[0]
    r = c.ctl("switchover", "--leader", p.name, "--candidate", cand, "--scheduled",
              "2099-01-01T10:00+00:00", "--force")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = c.ctl("list")
    tail = r.stdout.rstrip("\n").splitlines()[-3:]
    assert tail == [" Switchover scheduled at: 2099-01-01T10:00:00+00:00",
                    f"                    from: {p.name}",
                    f"                      to: {cand}"], r.stdout
    r = c.ctl("flush", "batman", "switchover")
    assert r.returncode == 0 and r.stdout.startswith("Success: "), (r.stdout, r.stderr)
    r = c.ctl("flush", "batman", "switchover")
    assert r.returncode == 0 and r.stdout.strip() == "No pending scheduled switchover"
    assert "Switchover scheduled" not in c.ctl("list").stdout
    assert c.primary() is p


def test_restart_reload_reinit(running):
    c = running
    p = c.primary_member
    settled(c)
    r = c.ctl("reload", "batman", "--force")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert sum(("on member node" in l) for l in r.stdout.splitlines()) == 3, r.stdout
    replica = sorted(m.name for m in c.members if m is not p)[0]
    # restart without --force asks when, confirms, asks for a version; 'N' aborts.
    t = ctl_pty(c, "restart", replica)
    t.expect("When should the restart take place (e.g. ")
    t.expect(")  [now]: ")
    t.send("")
    t.expect(f"Are you sure you want to restart members {replica}? [y/N]: ")
    t.send("N")
    t.expect("Error: Aborted restart")
    assert t.wait() == 1
    r = c.ctl("restart", "batman", replica, "--force", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.splitlines()[-1] == f"Success: restart on member {replica}"
    # reinit of a replica, waiting until it is done; the leader is not a candidate.
    r = c.ctl("reinit", "batman", p.name, "--force")
    assert r.returncode == 1 and "No replica among provided members" in r.stderr
    c.wait_pg_ready(90)
    r = c.ctl("reinit", "batman", replica, "--force", "--wait", timeout=180)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f"Success: reinitialize for member {replica}" in r.stdout
    assert r.stdout.splitlines()[-1] == f"Reinitialize is completed on: {replica}"
    c.wait_pg_ready(90)
    r = c.ctl("version", "batman")
    assert r.returncode == 0 and r.stdout.count(": raftgres ") == 3, r.stdout
