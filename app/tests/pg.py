"""A throwaway PostgreSQL cluster for the test run, from Debian's `postgresql` package.

One cluster per pytest run (initdb with trust auth, 127.0.0.1 on a free port, its socket in its
own folder, run as the `postgres` user when the tests run as root); each test asks for a fresh
database (CREATE DATABASE is cheap). A missing server is a FAILURE, never a skip: the suite must
not pass without having run against PostgreSQL.

Every cluster a process starts is stopped and removed when that process ends: by the caller's
remove_cluster, else at exit (atexit; Ctrl-C unwinds as KeyboardInterrupt to both), else on SIGTERM
or SIGHUP (a CI timeout, a closed terminal), which would otherwise end the run with no teardown and
leave the server running. Only SIGKILL leaves one behind.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

SETUP_HINT = "run make host / scripts/host-setup.sh (installs Debian's postgresql package)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin() -> Path:
    """The newest installed server's bin folder (15 on bookworm, 17 on trixie)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        pytest.fail(f"PostgreSQL server binaries not found under /usr/lib/postgresql: {SETUP_HINT}",
                    pytrace=False)
    return found[-1].parent


def as_postgres(argv: list[str]) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + argv, capture_output=True, text=True, check=True)


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int
    _names = itertools.count(1)

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        return subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", "-d", database, "-At", "-v", "ON_ERROR_STOP=1",
                               "-c", sql], capture_output=True, text=True, check=True).stdout

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def add_role(self, name: str, password: str, database: str) -> str:
        """A login role owning `database`; returns the database's URL with the password."""
        self.psql("postgres", f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        self.psql("postgres", f"ALTER DATABASE {database} OWNER TO {name}")
        return f"postgresql+psycopg://{name}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data / "db"), "-m", "fast",
                     "-w", "stop"])


def start_cluster() -> Cluster:
    binary = pg_bin()
    # not under pytest's tmp folder: that one is private to root, and the server runs as postgres
    data = Path(tempfile.mkdtemp(prefix="stocksense-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    cluster = Cluster(binary, data, free_port())
    _track(cluster)  # before initdb: a signal during the start removes it too
    try:
        as_postgres([str(binary / "initdb"), "-D", str(data / "db"), "--auth=trust",
                     "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
        _write_hba(data / "db" / "pg_hba.conf")
        # fsync off: a throwaway cluster needs no durability, and the run stays fast
        as_postgres([str(binary / "pg_ctl"), "-D", str(data / "db"), "-w", "-l",
                     str(data / "log"), "-o", f"-p {cluster.port} -k {data} -F "
                     "-c listen_addresses=127.0.0.1", "start"])
    except subprocess.CalledProcessError as exc:
        _live.pop(data, None)
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail(f"could not start a throwaway PostgreSQL ({exc.cmd[-1]}): "
                    f"{exc.stderr.strip()[-500:]}; {SETUP_HINT}", pytrace=False)
    return cluster


def _write_hba(path: Path) -> None:
    """The tests' superuser without a password; every other role by password (scram), so a
    wrong password is really refused."""
    path.write_text("local all all trust\n"
                    "host all postgres 127.0.0.1/32 trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def remove_cluster(cluster: Cluster) -> None:
    _live.pop(cluster.data, None)  # first: a signal arriving now must not stop it a second time
    try:
        if (cluster.data / "db" / "postmaster.pid").exists():  # a test may have stopped it
            cluster.stop()
    finally:
        shutil.rmtree(cluster.data, ignore_errors=True)


# --- The clusters this process started and has not removed yet ---------------------------------
_live: dict[Path, tuple[int, Cluster]] = {}  # data folder -> (pid of the starting process, cluster)
_hooked_pid: int | None = None  # the process whose atexit and signal handlers are in place
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _track(cluster: Cluster) -> None:
    global _hooked_pid
    if _hooked_pid != os.getpid():
        _hooked_pid = os.getpid()
        atexit.register(_remove_live_clusters)
        _catch_stop_signals()
    _live[cluster.data] = (os.getpid(), cluster)


def _remove_live_clusters() -> None:
    """This process's own clusters only: a forked child exiting leaves its parent's alone."""
    for pid, cluster in list(_live.values()):
        if pid == os.getpid():
            remove_cluster(cluster)


def _catch_stop_signals() -> None:
    """Only where the signal would kill the process anyway (default action) or a handler chains;
    a signal the caller ignores stays ignored. Handlers can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _STOP_SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_DFL or callable(previous):
            signal.signal(signum, _stop_then(previous))


def _stop_then(previous):  # type: ignore[no-untyped-def]
    def handler(signum, frame):  # type: ignore[no-untyped-def]
        try:
            _remove_live_clusters()
        finally:
            if callable(previous):
                previous(signum, frame)
            else:  # die of the signal as before: the run's exit status still says it was killed
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

    return handler
