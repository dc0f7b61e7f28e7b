"""Cluster test harness: real raftgres daemons on loopback, driven like an operator would.

In the spirit of PostgreSQL's Test::Cluster: start members, wait for a condition with a
deadline, query their REST API, kill and restart them. Every process a test starts is
stopped by PID at teardown.
"""
import json
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("RAFTGRES_BUILD", os.path.join(ROOT, "build"))
RAFTGRES = os.path.join(BUILD, "raftgres")
RAFTGRESCTL = os.path.join(BUILD, "raftgresctl")
RUN_AS = os.environ.get("RAFTGRES_TEST_USER", "postgres")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http(method, url, body=None, headers=None, timeout=3.0):
    """Returns (status, parsed JSON or None, raw bytes, headers)."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status, hdrs = r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        raw = e.read()
        status, hdrs = e.code, {k.lower(): v for k, v in e.headers.items()}
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, raw, hdrs


def demote_kwargs():
    """Run children as the PostgreSQL OS user when we are root (raftgres refuses root)."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(RUN_AS)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


class Member:
    def __init__(self, cluster, name, raft_port, api_port):
        self.cluster = cluster
        self.name = name
        self.raft_addr = f"127.0.0.1:{raft_port}"
        self.api_port = api_port
        self.api = f"http://127.0.0.1:{api_port}"
        self.dir = os.path.join(cluster.dir, name)
        self.data_dir = os.path.join(self.dir, "raft")
        self.config = os.path.join(cluster.dir, f"{name}.yml")
        self.log_path = os.path.join(cluster.dir, f"{name}.log")
        self.proc = None
        self.extra = {}

    def write_config(self, partners, scope=None, extra_yaml=""):
        scope = scope or self.cluster.scope
        plist = "\n".join(f"    - {p}" for p in partners)
        text = f"""scope: {scope}
name: {self.name}
restapi:
  listen: 127.0.0.1:{self.api_port}
  connect_address: 127.0.0.1:{self.api_port}
raft:
  data_dir: {self.data_dir}
  self_addr: {self.raft_addr}
  partner_addrs:
{plist}
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 1
    retry_timeout: 10
log:
  level: INFO
{extra_yaml}"""
        with open(self.config, "w") as f:
            f.write(text)
        os.chmod(self.config, 0o644)

    def start(self, *args, env=None):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([RAFTGRES, *args, self.config], stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=e, start_new_session=True,
                                     **demote_kwargs())
        self.cluster.pids.add(self.proc.pid)
        return self.proc

    def run_once(self, *args, env=None, timeout=15):
        """Run the daemon in the foreground (start-up refusal tests). Returns CompletedProcess."""
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        return subprocess.run([RAFTGRES, *args, self.config], capture_output=True, text=True,
                              env=e, timeout=timeout, **demote_kwargs())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.cluster.pids.discard(self.proc.pid)

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.cluster.pids.discard(self.proc.pid)

    def get(self, path, timeout=2.0):
        return http("GET", self.api + path, timeout=timeout)

    def cluster_state(self):
        status, body, _, _ = self.get("/cluster")
        assert status == 200, body
        return body

    def raft_role(self):
        st = self.cluster_state()
        for m in st["members"]:
            if m["raft_address"] == self.raft_addr:
                return m["raft_role"]
        return None

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()


class Cluster:
    def __init__(self, n=3, scope="batman"):
        self.scope = scope
        self.dir = tempfile.mkdtemp(prefix="raftgres-test-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.pids = set()
        self.members = [self.new_member(f"node{i + 1}") for i in range(n)]
        self.partners = [m.raft_addr for m in self.members]
        for m in self.members:
            m.write_config(self.partners)

    def new_member(self, name):
        return Member(self, name, free_port(), free_port())

    def start(self):
        for m in self.members:
            m.start()

    def running(self):
        return [m for m in self.members if m.alive()]

    def leader_view(self, members=None):
        """(raft_leader address, term) agreed by every given running member, else None."""
        views = set()
        for m in members or self.running():
            st = m.cluster_state()
            leader = st.get("raft_leader")
            if not leader:
                return None
            views.add(leader["raft_address"])
        return views.pop() if len(views) == 1 else None

    def wait_leader(self, timeout=10, members=None):
        return wait_for(lambda: self.leader_view(members), timeout, what="one agreed Raft leader")

    def member_by_addr(self, addr):
        return next(m for m in self.members if m.raft_addr == addr)

    def ctl(self, *args, member=None, timeout=30):
        member = member or self.members[0]
        return subprocess.run([RAFTGRESCTL, "-c", member.config, *args], capture_output=True,
                              text=True, timeout=timeout)

    def teardown(self):
        for m in self.members:
            if m.alive():
                m.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for m in self.members:
            if m.proc is None:
                continue
            try:
                m.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                m.proc.kill()
                m.proc.wait()
        for pid in list(self.pids):  # anything else we started, by PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
