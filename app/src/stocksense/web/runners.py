"""Who runs the admin jobs.

* `SystemdJobRunner` (production, ``STOCKSENSE_JOB_RUNNER=systemd``): asks systemd to start
  ``stocksense-refresh.service`` or ``stocksense-retrain@SYMBOL.service`` (``systemctl start
  --no-block``; a polkit rule lets the service user start exactly those units) and follows them
  with ``systemctl show``.  The jobs get their own cgroup, network access and memory; the web unit
  keeps its tight sandbox.
* `LocalJobRunner` (development and tests, ``local``): runs the `stocksense` CLI as children of
  this process (`jobs.JobManager`).

Both keep a bounded history.  Both answer `training_available`, so the admin page can say there is
no training on this instance instead of offering a button that fails.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from .jobs import Job, JobBusy, JobManager, notify_finished

log = logging.getLogger("stocksense.web.jobs")

REFRESH_UNIT = "stocksense-refresh.service"
RETRAIN_TEMPLATE = "stocksense-retrain@{}.service"
HISTORY = 10


class JobRunner(Protocol):
    training_available: bool

    def start_refresh(self) -> Job: ...
    def start_retrain(self, symbol: str) -> Job: ...
    def current(self) -> Job | None: ...
    def recent(self) -> list[Job]: ...
    def shutdown(self, timeout: float = 5.0) -> None: ...


def _tensorflow_installed() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


class LocalJobRunner(JobManager):
    """Jobs as children of the web process (one at a time)."""

    def __init__(self, config, on_finish: Callable[[Job], None] | None = None, env=None):
        super().__init__(config.job_command, env=env, history=HISTORY, on_finish=on_finish)
        self.config = config
        self.training_available = (
            config.training == "true" or config.training == "auto" and _tensorflow_installed()
        )

    def start_refresh(self) -> Job:
        return self.start("refresh", [["refresh", "--json"]], None)

    def start_retrain(self, symbol: str) -> Job:
        # train + publish both models, then refresh the walk-forward backtest the pages show
        steps = [["train", symbol, "--json", *self.config.retrain_args]]
        if self.config.retrain_backtest:
            steps.append(["backtest", symbol, "--json", *self.config.retrain_args])
        return self.start("retrain", steps, symbol, weights=[0.6, 0.4][: len(steps)])


def unit_instance(symbol: str) -> str:
    """systemd-escape for an instance name: [A-Za-z0-9_.:] kept (no leading '.'), others \\xHH;
    the unit reads the symbol back with %I."""
    out = []
    for i, ch in enumerate(symbol):
        if ch.isascii() and (ch.isalnum() or ch in "_:" or ch == "." and i):
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}")
    return "".join(out)


class SystemdJobRunner:
    """Jobs as systemd units started on request and followed by polling their state."""

    def __init__(
        self,
        config,
        on_finish: Callable[[Job], None] | None = None,
        run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    ):
        self.systemctl = list(config.systemctl)
        self._run = run
        self._on_finish = on_finish
        self._lock = threading.Lock()
        self._history: deque[Job] = deque(maxlen=HISTORY)
        self._current: Job | None = None
        self._invocations: dict[str, str] = {}  # job id -> the unit's InvocationID before start
        self.training_available = config.training == "true" or (
            config.training == "auto" and self._unit_exists(RETRAIN_TEMPLATE.format("probe"))
        )

    # -- systemctl ---------------------------------------------------------------------------
    def _systemctl(self, *args: str) -> subprocess.CompletedProcess:
        return self._run(
            [*self.systemctl, *args], capture_output=True, text=True, timeout=15, check=False
        )

    def _show(self, unit: str) -> dict[str, str]:
        props = "ActiveState,SubState,Result,LoadState,ExecMainStatus,InvocationID"
        p = self._systemctl("show", "-p", props, "--", unit)
        return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)

    def _unit_exists(self, unit: str) -> bool:
        try:
            return self._show(unit).get("LoadState") == "loaded"
        except (OSError, subprocess.SubprocessError):
            log.warning("systemctl is not usable", exc_info=True)
            return False

    # -- jobs --------------------------------------------------------------------------------
    def _start(self, kind: str, unit: str, symbol: str | None) -> Job:
        with self._lock:
            self._poll()
            cur = self._current
            if cur is not None and cur.active:
                raise JobBusy(
                    f"a {cur.kind} job is already running"
                    + (f" for {cur.symbol}" if cur.symbol else "")
                )
            argv = [*self.systemctl, "start", "--no-block", "--", unit]
            job = Job(id=uuid.uuid4().hex[:12], kind=kind, symbol=symbol, argv=argv, steps=[argv])
            job.weights = [1.0]
            try:
                # a new run has a new InvocationID: until it shows, the start is still queued
                self._invocations[job.id] = self._show(unit).get("InvocationID", "")
                p = self._systemctl("start", "--no-block", "--", unit)
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("systemctl start failed", exc_info=True)
                raise JobBusy(f"systemd could not be asked to start {unit}") from exc
            if p.returncode != 0:
                log.warning("systemctl start refused", extra={"unit": unit, "stderr": p.stderr})
                raise JobBusy(f"systemd refused to start {unit}")
            job.status, job.started_at, job.message = "running", time.time(), f"{unit} started"
            self._current = job
            self._history.appendleft(job)
            log.info("job started", extra={"job_id": job.id, "unit": unit})
            return job

    def start_refresh(self) -> Job:
        return self._start("refresh", REFRESH_UNIT, None)

    def start_retrain(self, symbol: str) -> Job:
        if not self.training_available:
            raise JobBusy("this instance has no training installed")
        return self._start("retrain", RETRAIN_TEMPLATE.format(unit_instance(symbol)), symbol)

    def _poll(self) -> None:
        """Follow the current unit; a finished one ends the job (and calls on_finish once)."""
        job = self._current
        if job is None or not job.active:
            return
        unit = job.argv[-1]
        try:
            state = self._show(unit)
        except (OSError, subprocess.SubprocessError):
            return
        active = state.get("ActiveState", "")
        if state.get("InvocationID", "") == self._invocations.get(job.id):
            job.message = f"{unit}: queued"
            return
        if active in ("activating", "active", "reloading", "deactivating"):
            job.message = f"{unit}: {active} ({state.get('SubState', '')})"
            return
        job.finished_at = time.time()
        self._invocations.pop(job.id, None)
        result = state.get("Result", "")
        job.returncode = int(state.get("ExecMainStatus") or 0)
        if active == "failed" or result not in ("", "success"):
            job.status = "failed"
            job.message = f"{unit} failed ({result or active}); see its journal"
        else:
            job.status, job.message = "succeeded", "done"
        log.info("job finished", extra={"job_id": job.id, "status": job.status, "unit": unit})
        notify_finished(self._on_finish, job)

    def current(self) -> Job | None:
        with self._lock:
            self._poll()
            return self._current

    def recent(self) -> list[Job]:
        with self._lock:
            self._poll()
            return list(self._history)

    def shutdown(self, timeout: float = 5.0) -> None:  # noqa: ARG002 - units outlive the web app
        """The units run on under systemd; nothing to stop here."""


def build_runner(config, on_finish: Callable[[Job], None] | None = None) -> JobRunner:
    if config.job_runner == "systemd":
        return SystemdJobRunner(config, on_finish=on_finish)
    return LocalJobRunner(config, on_finish=on_finish)


__all__: Sequence[str] = ("JobRunner", "LocalJobRunner", "SystemdJobRunner", "build_runner")
