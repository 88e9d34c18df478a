"""The throwaway PostgreSQL of tests/pg.py goes away with the process that started it, also when
that process is killed by SIGTERM (a CI timeout) or SIGHUP, or interrupted (SIGINT): otherwise the
server keeps running under /tmp/stocksense-pg-* after the run. A real cluster in a child process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

# Starts a cluster, says where, then waits to be killed.
CHILD = f"""
import sys, time
sys.path.insert(0, {str(TESTS)!r})
from pg import start_cluster
print(start_cluster().data, flush=True)
time.sleep(120)
"""


def _postmaster_running(data: Path) -> bool:
    """A live (not zombie) process whose command line names the cluster's data folder."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"{data}/db".encode() in cmdline.read_bytes():
                return True
        except OSError:  # the process ended while we looked
            continue
    return False


# The stops tests/pg.py must survive with its clean-up, each tested below.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _default_stop_signals() -> None:
    """In the child: the three signals back to their default action. A run started under nohup
    (SIGHUP ignored) or as a shell's background job (SIGINT ignored) passes the ignore on, and a
    signal the process ignores stays ignored in tests/pg.py by design: the child would sleep on."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_killed_run_stops_and_removes_its_cluster(signum: signal.Signals) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=_default_stop_signals)
    try:
        data = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
        assert data.name.startswith("stocksense-pg-"), child.stderr.read()  # type: ignore[union-attr]
        assert _postmaster_running(data)
        child.send_signal(signum)
        child.wait(60)
    finally:
        child.kill()
        child.wait()
    assert not _postmaster_running(data), f"the server of {data} still runs after {signum.name}"
    assert not data.exists()
    if signum != signal.SIGINT:  # still reported as killed by the signal
        assert child.returncode == -signum
