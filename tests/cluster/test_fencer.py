"""The self-fencing process on its own (src/fencer.c): its protocol with the daemon, with a
stand-in process for the postmaster. Fast and exact; the real thing with PostgreSQL is in
test_pg_ha.py (frozen primary daemon)."""
import os
import subprocess
import time

from harness import BUILD, wait_for

FENCER = os.path.join(BUILD, "raftgres-fencer")


def mono_ms():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)


def start():
    victim = subprocess.Popen(["sleep", "60"])
    fencer = subprocess.Popen([FENCER], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    return victim, fencer


def send(fencer, line):
    fencer.stdin.write(line.encode() + b"\n")
    fencer.stdin.flush()


def test_kills_the_postmaster_when_the_deadline_passes():
    victim, fencer = start()
    try:
        t0 = mono_ms()
        send(fencer, f"arm {t0 + 400} {victim.pid}")
        time.sleep(0.2)
        assert victim.poll() is None  # not before its deadline
        assert victim.wait(5) == -9
        assert mono_ms() - t0 >= 400
        assert fencer.poll() is None  # it keeps serving
    finally:
        victim.kill()
        fencer.kill()


def test_a_newer_deadline_postpones_and_disarm_cancels():
    victim, fencer = start()
    try:
        t0 = mono_ms()
        send(fencer, f"arm {t0 + 300} {victim.pid}")
        time.sleep(0.15)
        send(fencer, f"arm {t0 + 900} {victim.pid}")  # a renew
        time.sleep(0.4)
        assert victim.poll() is None
        send(fencer, "disarm")  # demoted: nothing to fence
        time.sleep(0.8)
        assert victim.poll() is None
    finally:
        victim.kill()
        fencer.kill()


def test_clean_exit_does_not_fence_but_a_vanished_daemon_still_is_enforced():
    victim, fencer = start()
    try:
        send(fencer, f"arm {mono_ms() + 300} {victim.pid}")
        send(fencer, "exit")
        assert fencer.wait(5) == 0
        time.sleep(0.5)
        assert victim.poll() is None
    finally:
        victim.kill()
    victim, fencer = start()
    try:
        send(fencer, f"arm {mono_ms() + 300} {victim.pid}")
        fencer.stdin.close()  # the daemon died (kill -9)
        assert victim.wait(5) == -9
        assert fencer.wait(5) == 0
        assert b"enforcing it" in fencer.stderr.read()
    finally:
        victim.kill()
        fencer.kill()


def test_garbage_lines_are_ignored():
    victim, fencer = start()
    try:
        send(fencer, "arm nonsense")
        send(fencer, "x" * 1000)
        send(fencer, f"arm {mono_ms() + 200} -5")
        time.sleep(0.5)
        assert victim.poll() is None and fencer.poll() is None
    finally:
        victim.kill()
        fencer.kill()
