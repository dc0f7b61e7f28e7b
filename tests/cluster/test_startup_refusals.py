"""Issue 2, bad input: every start-up refusal is one clear line, exit code 2, and
nothing is written to the data dir."""
import os
import socket
import subprocess

import pytest

from harness import RAFTGRES, wait_for


def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def test_invalid_config_refuses_and_writes_nothing(cluster):
    m = cluster.members[0]
    with open(m.config, "a") as f:
        f.write("bootstrap_typo: 1\n")
    with open(m.config) as f:
        text = f.read().replace(f"ttl: {cluster.ttl}", "ttl: thirty")
    with open(m.config, "w") as f:
        f.write(text)
    r = m.run_once()
    assert r.returncode == 2
    assert f"{m.config}:" in r.stderr and "ttl" in r.stderr
    assert listing(m.data_dir) is None


def test_validate_config_reports_file_line_column(cluster):
    m = cluster.members[0]
    with open(m.config) as f:
        text = f.read().replace("loop_wait: 1", "loop_wait: 20")
    with open(m.config, "w") as f:
        f.write(text)
    r = subprocess.run([RAFTGRES, "--validate-config", m.config], capture_output=True, text=True)
    assert r.returncode == 2
    line = next(l for l in r.stderr.splitlines() if "loop_wait" in l)
    path, lineno, col = line.split(":")[:3]
    assert path == m.config and int(lineno) > 0 and int(col) > 0


def test_self_addr_missing_from_partner_addrs_refuses(cluster):
    m = cluster.members[0]
    m.write_config([x for x in cluster.partners if x != m.raft_addr])
    r = m.run_once()
    assert r.returncode == 2
    assert "partner_addrs" in r.stderr
    assert listing(m.data_dir) is None


def test_data_dir_of_another_scope_refuses(cluster):
    m = cluster.members[0]
    m.write_config(cluster.partners, scope="otherscope")
    m.start()
    wait_for(lambda: os.path.exists(os.path.join(m.data_dir, "raftgres.json")), 10,
             what="data dir written")
    m.stop()
    before = {f: os.path.getmtime(os.path.join(m.data_dir, f)) for f in os.listdir(m.data_dir)}
    m.write_config(cluster.partners)
    r = m.run_once()
    assert r.returncode == 2
    assert "otherscope" in r.stderr and "batman" in r.stderr
    after = {f: os.path.getmtime(os.path.join(m.data_dir, f)) for f in os.listdir(m.data_dir)}
    assert before == after


@pytest.mark.parametrize("which", ["raft", "restapi"])
def test_port_in_use_refuses_and_writes_nothing(cluster, which):
    m = cluster.members[0]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = int(m.raft_addr.split(":")[1]) if which == "raft" else m.api_port
    s.bind(("127.0.0.1", port))
    s.listen(1)
    try:
        r = m.run_once()
    finally:
        s.close()
    assert r.returncode == 2
    assert "in use" in r.stderr
    assert len([l for l in r.stderr.splitlines() if "CRITICAL" in l]) == 1
    assert listing(m.data_dir) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show the refusal")
def test_started_as_root_refuses(cluster):
    m = cluster.members[0]
    r = subprocess.run([RAFTGRES, m.config], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "root" in r.stderr and "postgres" in r.stderr
    assert listing(m.data_dir) is None
