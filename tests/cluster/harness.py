"""Cluster test harness: real raftgres daemons on loopback, driven like an operator would.

In the spirit of PostgreSQL's Test::Cluster: start members, wait for a condition with a
deadline, query their REST API, kill and restart them. Every process a test starts is
stopped by PID at teardown.
"""
import json
import os
import pwd
import shutil
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


_handed_out = set()
_next_port = [20000 + (os.getpid() * 37) % 10000]


def free_port():
    """A free loopback port below the kernel's ephemeral range (32768+), so an outgoing
    connection can never take it before the member binds it, and never the same twice in
    a test run."""
    while True:
        port = _next_port[0]
        _next_port[0] = 20000 + (port - 20000 + 1) % 12000
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def wait_for(cond, timeout, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - a member not ready yet is not a failure
            last = e
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
    def __init__(self, cluster, name, raft_port, api_port, host="127.0.0.1", netns=None):
        self.cluster = cluster
        self.name = name
        self.host = host
        self.netns = netns
        self.raft_addr = f"{host}:{raft_port}"
        self.api_port = api_port
        self.api = f"http://{host}:{api_port}"
        self.dir = os.path.join(cluster.dir, name)
        self.data_dir = os.path.join(self.dir, "raft")
        self.config = os.path.join(cluster.dir, f"{name}.yml")
        self.log_path = os.path.join(cluster.dir, f"{name}.log")
        self.proc = None
        self.extra = {}
        self.pg_port = free_port()
        self.pg_data = os.path.join(self.dir, "data")

    def pg_yaml(self):
        """The postgresql/bootstrap sections of a member that manages PostgreSQL."""
        return f"""  initdb:
  - encoding: UTF8
  - data-checksums
  pg_hba:
  - host replication replicator 127.0.0.1/32 md5
  - host all all 127.0.0.1/32 md5
  - host replication replicator 10.0.0.0/8 md5
  - host all all 10.0.0.0/8 md5
  users:
    admin:
      password: admin
      options: [createrole, createdb]
postgresql:
  listen: {self.host}{",127.0.0.1" if self.netns else ""}:{self.pg_port}
  connect_address: {self.host}:{self.pg_port}
  data_dir: {self.pg_data}
  use_pg_rewind: true
  authentication:
    replication:
      username: replicator
      password: rep-pass
    superuser:
      username: postgres
      password: su-pass
  parameters:
    unix_socket_directories: {self.dir}
    shared_buffers: 16MB
    max_connections: 30
"""

    def write_config(self, partners, scope=None, extra_yaml=""):
        scope = scope or self.cluster.scope
        plist = "\n".join(f"    - {p}" for p in partners)
        pg = self.cluster.pg
        dcs_pg = """    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_keep_size: 64MB
""" if pg else ""
        text = f"""scope: {scope}
name: {self.name}
restapi:
  listen: {self.host}:{self.api_port}
  connect_address: {self.host}:{self.api_port}
raft:
  data_dir: {self.data_dir}
  self_addr: {self.raft_addr}
  partner_addrs:
{plist}
bootstrap:
  dcs:
    ttl: {self.cluster.ttl}
    loop_wait: {self.cluster.loop_wait}
    retry_timeout: 3
    maximum_lag_on_failover: 10485760
{self.cluster.dcs_extra}{dcs_pg}{self.pg_yaml() if pg else ""}log:
  level: {os.environ.get("RAFTGRES_TEST_LOG_LEVEL", "INFO")}
{extra_yaml}"""
        with open(self.config, "w") as f:
            f.write(text)
        os.chmod(self.config, 0o644)

    def start(self, *args, env=None):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        self.logf = open(self.log_path, "ab")
        if self.netns:
            # ip netns exec and setpriv both exec: the PID is the daemon's own.
            argv = ["ip", "netns", "exec", self.netns, "setpriv", f"--reuid={RUN_AS}",
                    f"--regid={RUN_AS}", "--init-groups", RAFTGRES, *args, self.config]
            self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, env=e,
                                         start_new_session=True)
        else:
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

    def patroni(self):
        status, body, _, _ = self.get("/patroni")
        return status, body

    def role(self):
        try:
            return self.patroni()[1].get("role")
        except (OSError, AttributeError, urllib.error.URLError):
            return None

    def sql(self, query, user="postgres", password="su-pass", timeout=5, autocommit=True):
        import psycopg2
        conn = psycopg2.connect(host=self.host, port=self.pg_port, user=user,
                                password=password, dbname="postgres", connect_timeout=timeout)
        try:
            conn.autocommit = autocommit
            with conn.cursor() as cur:
                cur.execute(query)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.pg_data, "postmaster.pid")) as f:
                pid = int(f.readline())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def kill_machine(self):
        """The machine dies: the daemon and its PostgreSQL vanish at once (SIGKILL)."""
        pid = self.postmaster_pid()
        self.kill()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_for(lambda: not pid_alive(pid), 10, what="postmaster gone")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


class Cluster:
    def __init__(self, n=3, scope="batman", pg=False, ttl=20, loop_wait=1, dcs_extra="",
                 netns=False):
        self.scope = scope
        self.dcs_extra = dcs_extra
        self.net = None
        if netns:
            from netns import Net
            self.net = Net(n)
        self.pg = pg
        self.ttl = ttl
        self.loop_wait = loop_wait
        self.haproxy = None
        self.dir = tempfile.mkdtemp(prefix="raftgres-test-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.pids = set()
        self.members = [self.new_member(f"node{i + 1}", i) for i in range(n)]
        self.partners = [m.raft_addr for m in self.members]
        for m in self.members:
            m.write_config(self.partners)

    def new_member(self, name, i=None):
        if self.net and i is not None:
            return Member(self, name, free_port(), free_port(), host=self.net.addr(i),
                          netns=self.net.ns[i])
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

    def primary(self):
        """The member whose /primary answers 200 (exactly one, else None)."""
        ps = [m for m in self.running() if m.get("/primary")[0] == 200]
        return ps[0] if len(ps) == 1 else None

    def wait_pg_ready(self, timeout=90):
        """One primary and every other running member a streaming replica."""
        def ready():
            p = self.primary()
            if not p:
                return None
            for m in self.running():
                if m is p:
                    continue
                st, body = m.patroni()
                if st != 200 or body.get("role") != "replica" or \
                        body.get("replication_state") != "streaming":
                    return None
            return p
        return wait_for(ready, timeout, interval=0.2, what="primary and streaming replicas")

    def start_haproxy(self):
        self.ha_write_port, self.ha_read_port = free_port(), free_port()
        servers_w = "\n".join(
            f"    server {m.name} {m.host}:{m.pg_port} maxconn 100 check port {m.api_port}"
            for m in self.members)
        cfg = f"""global
    maxconn 100
defaults
    mode tcp
    retries 2
    timeout client 30m
    timeout connect 4s
    timeout server 30m
    timeout check 2s
listen primary
    bind 127.0.0.1:{self.ha_write_port}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers_w}
listen standbys
    balance roundrobin
    bind 127.0.0.1:{self.ha_read_port}
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers_w}
"""
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.haproxy = subprocess.Popen(["haproxy", "-f", path, "-db"],
                                        stdout=open(os.path.join(self.dir, "haproxy.log"), "ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.pids.add(self.haproxy.pid)

    def wait_routed(self, port, query, expect, timeout=30):
        """HAProxy starts with every server UP until its checks say otherwise: wait until
        six connections in a row give the expected answer."""
        def stable():
            return all(self.sql_via(port, query)[0][0] == expect for _ in range(6))
        wait_for(stable, timeout, interval=0.2, what=f"HAProxy routing on port {port}")

    def sql_via(self, port, query, timeout=3):
        import psycopg2
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password="su-pass",
                                dbname="postgres", connect_timeout=timeout)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

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
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(5)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
        # PostgreSQL survives its daemon (like Patroni's); stop what is left, by PID.
        for m in self.members:
            pid = m.postmaster_pid()
            if pid:
                try:
                    os.kill(pid, signal.SIGQUIT)
                except ProcessLookupError:
                    pass
        for pid in list(self.pids):  # anything else we started, by PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.net:
            self.net.teardown()

    def remove_files(self):
        """PostgreSQL data dirs weigh tens of MB per member: a suite of many clusters would
        fill the disk. Keep them only when RAFTGRES_KEEP_TEST_DIRS is set."""
        if not os.environ.get("RAFTGRES_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- raftgresctl through a pseudo-terminal (appended for tests/cluster/test_ctl.py) ----------

class CtlPty:
    """raftgresctl running on a pseudo-terminal, answered the way an operator answers it:
    wait for a prompt, type a line. Everything it printed is kept in self.out."""

    def __init__(self, args, env=None):
        import pty
        self.master, slave = pty.openpty()
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([RAFTGRESCTL, *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=e, start_new_session=True, close_fds=True)
        os.close(slave)
        self.out = ""
        self.pos = 0  # where the next expect() starts looking

    def _read(self, timeout):
        import select
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return None
        if not data:
            return None
        self.out += data.decode(errors="replace").replace("\r\n", "\n")
        return True

    def expect(self, text, timeout=30):
        """Wait until TEXT appears after what earlier expects consumed; returns the output
        between the two."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.out.find(text, self.pos)
            if i >= 0:
                before = self.out[self.pos:i]
                self.pos = i + len(text)
                return before
            left = deadline - time.monotonic()
            eof = left > 0 and self._read(min(left, 0.2)) is None
            if left <= 0 or (eof and self.out.find(text, self.pos) < 0):
                raise AssertionError(f"raftgresctl never printed {text!r}; output so far:\n"
                                     f"{self.out}")

    def send(self, line):
        os.write(self.master, (line + "\n").encode())

    def wait(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.05):
            pass
        rc = self.proc.wait(max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def ctl_pty(cluster, *args, member=None, env=None):
    """Start `raftgresctl -c <member's config> ARGS...` on a pseudo-terminal."""
    member = member or cluster.members[0]
    return CtlPty(["-c", member.config, *args], env=env)
