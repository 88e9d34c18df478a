"""Background admin jobs (retrain a symbol, refresh data), one at a time, each a subprocess of the
`stocksense` CLI so that TensorFlow never enters the web process. Progress comes from the JSON
lines the CLI prints, followed by web/job.py's Job."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

from .job import Job, JobBusy

__all__ = ["Job", "JobBusy", "JobManager", "notify_finished", "settle"]

log = logging.getLogger("stocksense.web.jobs")


def notify_finished(hook: Callable[[Job], None] | None, job: Job) -> None:
    """Tell the web layer a job ended (it drops cached answers); a failing hook fails nothing."""
    if hook is None:
        return
    try:
        hook(job)
    except Exception:  # noqa: BLE001
        log.warning("job on_finish hook failed", exc_info=True)


def default_command_prefix() -> list[str]:
    """The `stocksense` CLI in this interpreter (with or without an installed console script)."""
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'stocksense'; from stocksense.cli import main; main()",
    ]


def _keep_tail(stream: Iterable[str], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line.rstrip())


def _json_events(stream: Iterable[str]) -> Iterator[dict]:
    """The JSON objects among a CLI's stdout lines (anything else is skipped)."""
    for line in stream:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict):
            yield ev


def settle(job: Job, stderr_tail: Iterable[str]) -> None:
    """The finished job's status and message, from its exit code, events and stderr."""
    if job.status == "cancelled":
        return
    if job.returncode == 0 and job.item_failures:
        job.status = "failed"
        names = [n for n in job.item_failures if n != "reported failure"]
        job.message = (
            "finished with errors"
            + (f" for {', '.join(names)}" if names else "")
            + ("; the last: " + job.message if names else "")
        )
    elif job.returncode == 0:
        job.status = "succeeded"
        job.message = "done"
    else:
        job.status = "failed"
        if job.message in {"starting", "done"} or not any(
            e.get("event") == "error" for e in job.events
        ):
            last = next((ln for ln in reversed(list(stderr_tail)) if ln.strip()), "")
            job.message = f"exited with code {job.returncode}" + (
                f": {last[-300:]}" if last else ""
            )


def _log_finished(job: Job) -> None:
    log.info(
        "job finished",
        extra={
            "job_id": job.id,
            "kind": job.kind,
            "symbol": job.symbol,
            "status": job.status,
            "returncode": job.returncode,
            "seconds": round(job.finished_at - job.started_at, 2),
        },
    )


class JobManager:
    """Runs at most one job at a time; keeps the last few finished jobs for display."""

    def __init__(
        self,
        command_prefix: Sequence[str] | None = None,
        env: dict | None = None,
        history: int = 10,
        on_finish: Callable[[Job], None] | None = None,
    ):
        self.prefix = list(command_prefix or default_command_prefix())
        self.env = env
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._history: deque[Job] = deque(maxlen=history)
        self._proc: subprocess.Popen | None = None
        self._on_finish = on_finish
        self._shutdown = False

    def start(
        self,
        kind: str,
        steps: Sequence[Sequence[str]],
        symbol: str | None = None,
        weights: Sequence[float] | None = None,
    ) -> Job:
        """Run the CLI once per step (each a list of arguments), in order, stopping at a failure."""
        steps = [list(x) for x in steps]
        if not steps or not all(steps):
            raise ValueError("a job needs at least one non-empty step")
        if weights is None:
            weights = [1.0 / len(steps)] * len(steps)
        total = float(sum(weights)) or 1.0
        with self._lock:
            if self._shutdown:
                raise JobBusy("the server is shutting down")
            if self._current is not None and self._current.active:
                raise JobBusy(
                    f"a {self._current.kind} job is already running"
                    + (f" for {self._current.symbol}" if self._current.symbol else "")
                )
            job = Job(
                id=uuid.uuid4().hex[:12],
                kind=kind,
                symbol=symbol,
                argv=self.prefix + steps[0],
                steps=[self.prefix + x for x in steps],
                weights=[w / total for w in weights],
            )
            self._current = job
            self._history.appendleft(job)
        t = threading.Thread(target=self._run, args=(job,), name=f"job-{job.id}", daemon=True)
        t.start()
        return job

    def _run(self, job: Job) -> None:
        """The job's thread: each step in turn, stopping at a failure, then the verdict."""
        self._begin(job)
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        stderr_tail: deque[str] = deque(maxlen=20)
        for index, argv in enumerate(job.steps):
            if index:
                job.next_step()
            job.argv = argv
            job.returncode = self._run_step(job, argv, env, stderr_tail)
            if job.returncode != 0 or job.status == "cancelled":
                break
        job.finished_at = time.time()
        settle(job, stderr_tail)
        _log_finished(job)
        notify_finished(self._on_finish, job)

    @staticmethod
    def _begin(job: Job) -> None:
        job.status = "running"
        job.started_at = time.time()
        job.message = "starting"
        log.info("job started", extra={"job_id": job.id, "kind": job.kind, "symbol": job.symbol})

    def _run_step(self, job: Job, argv: list[str], env: dict, stderr_tail: deque[str]) -> int:
        """One CLI run: its JSON lines feed the job, its stderr's tail is kept; the exit code."""
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, bufsize=1, start_new_session=True)
        except OSError as exc:
            job.message = f"could not start: {exc.strerror}"
            return -1
        self._proc = proc
        try:
            err_thread = threading.Thread(target=_keep_tail, args=(proc.stderr, stderr_tail),
                                          daemon=True)
            err_thread.start()
            for ev in _json_events(proc.stdout):
                job.on_event(ev)
            code = proc.wait()
            err_thread.join(timeout=2)
            return code
        finally:
            self._proc = None

    def current(self) -> Job | None:
        return self._current

    def recent(self) -> list[Job]:
        return list(self._history)

    def get(self, job_id: str) -> Job | None:
        return next((j for j in self._history if j.id == job_id), None)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting jobs and terminate a running one (SIGTERM, then SIGKILL)."""
        with self._lock:
            self._shutdown = True
            proc = self._proc
            job = self._current
        if proc is not None and proc.poll() is None:
            if job is not None:
                job.status = "cancelled"
                job.message = "cancelled: server shutting down"
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
