"""Test hosts in network namespaces, so that a partition is a real cut link.

Each member gets its own namespace (ip netns) with a veth pair whose other end sits on a
bridge in the test's namespace; addresses are 10.<net>.0.<n>/24, used only inside what the
test made. Cutting a member off is `ip link set <its bridge port> down`. Everything is
removed at teardown. Needs root (CI runs as root)."""
import os
import subprocess

PROBE = r'''
import sys, time, psycopg2
port, out = int(sys.argv[1]), sys.argv[2]
f = open(out, "a", buffering=1)
while True:
    t = time.clock_gettime(time.CLOCK_MONOTONIC)
    w = 0
    try:
        c = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password="su-pass",
                             dbname="postgres", connect_timeout=1)
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SET statement_timeout = '500ms'")
        cur.execute("SELECT pg_is_in_recovery()")
        w = 0 if cur.fetchone()[0] else 1
        c.close()
    except Exception:
        w = 0
    f.write(f"{t:.3f} {w}\n")
    time.sleep(0.1)
'''


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class Net:
    def __init__(self, n):
        # Unique among the Nets alive in this machine: the first free bridge name.
        self.id = os.getpid() % 200 + 20
        while os.path.exists(f"/sys/class/net/rgbr{self.id}"):
            self.id = (self.id - 20 + 1) % 200 + 20
        self.bridge = f"rgbr{self.id}"
        self.prefix = f"10.{self.id}.0"
        self.ns = [f"rg{self.id}n{i + 1}" for i in range(n)]
        self.hostif = [f"rg{self.id}h{i + 1}" for i in range(n)]
        self.probes = []
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.prefix}.254/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i, ns in enumerate(self.ns):
            sh("ip", "netns", "add", ns)
            peer = f"rg{self.id}c{i + 1}"
            sh("ip", "link", "add", self.hostif[i], "type", "veth", "peer", "name", peer)
            sh("ip", "link", "set", peer, "netns", ns)
            sh("ip", "link", "set", self.hostif[i], "master", self.bridge)
            sh("ip", "link", "set", self.hostif[i], "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.prefix}.{i + 1}/24", "dev",
               peer)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def addr(self, i):
        return f"{self.prefix}.{i + 1}"

    def cut(self, i):
        sh("ip", "link", "set", self.hostif[i], "down")

    def heal(self, i):
        sh("ip", "link", "set", self.hostif[i], "up")

    def start_probe(self, i, port, out):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[i], "/usr/bin/python3", "-c", PROBE,
                              str(port), out], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.probes.append(p)
        return p

    def teardown(self):
        for p in self.probes:
            p.kill()
            p.wait()
        for ns in self.ns:
            # Whatever still runs in the namespace (a fencer waiting for its deadline).
            r = sh("ip", "netns", "pids", ns, check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)


def writable_intervals(path):
    """[(t_start, t_end)] when the probe saw a writable primary."""
    out, start, last = [], None, None
    with open(path) as f:
        for line in f:
            try:
                t, w = line.split()
                t, w = float(t), int(w)
            except ValueError:
                continue
            if w and start is None:
                start = t
            if not w and start is not None:
                out.append((start, t))
                start = None
            last = t
    if start is not None:
        out.append((start, last))
    return out


def overlaps(a, b):
    """Total seconds during which both interval lists are writable."""
    total = 0.0
    for s1, e1 in a:
        for s2, e2 in b:
            total += max(0.0, min(e1, e2) - max(s1, s2))
    return total
