import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Cluster  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", help="run the longer fault suites")


def pytest_configure(config):
    config.addinivalue_line("markers", "long: longer suite, run with --long")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="longer suite: run with --long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def pg_cluster(request):
    yield from _cluster(request, pg=True)


@pytest.fixture
def sync_cluster(request):
    yield from _cluster(request, pg=True, dcs_extra="    synchronous_mode: true\n")


@pytest.fixture
def strict_cluster(request):
    yield from _cluster(request, pg=True, dcs_extra="    synchronous_mode: true\n"
                        "    synchronous_mode_strict: true\n")


@pytest.fixture
def cluster(request):
    yield from _cluster(request)


def _cluster(request, **kw):
    c = Cluster(3, **kw)
    try:
        yield c
    finally:
        c.teardown()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            # The members' logs are the first thing an operator would read.
            for m in c.members:
                try:
                    tail = m.log().splitlines()[-60:]
                except OSError:
                    continue
                print(f"\n----- {m.name} log (last 60 lines) -----")
                print("\n".join(tail))
        c.remove_files()


@pytest.fixture
def running(pg_cluster):
    """A PostgreSQL cluster with one primary (c.primary_member) and streaming replicas."""
    c = pg_cluster
    c.start()
    c.wait_leader(timeout=15)
    c.primary_member = c.wait_pg_ready()
    return c


@pytest.fixture
def started(cluster):
    cluster.start()
    cluster.wait_leader(timeout=15)
    return cluster
