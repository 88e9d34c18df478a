"""Background admin jobs (retrain a symbol, refresh data), one at a time, each a subprocess of the
`stocksense` CLI so that TensorFlow never enters the web process.  Progress comes from the JSON
lines
the CLI prints (`{"event": "epoch", "model": .., "epoch": .., "of": ..}`)."""

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("stocksense.web.jobs")


class JobBusy(RuntimeError):
    pass


@dataclass
class Job:
    id: str
    kind: str
    symbol: str | None
    argv: list[str]
    status: str = "queued"  # queued | running | succeeded | failed | cancelled
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    local: float = 0.0  # 0..1 within the current step
    steps: list = field(default_factory=list)  # argv per step
    weights: list = field(default_factory=list)
    step: int = 0
    message: str = "queued"
    events: deque = field(default_factory=lambda: deque(maxlen=50))
    returncode: int | None = None
    _models: dict = field(default_factory=dict)
    item_failures: list = field(default_factory=list)

    @property
    def progress(self) -> float:
        if self.status == "succeeded":
            return 1.0
        done = sum(self.weights[: self.step])
        cur = self.weights[self.step] if self.step < len(self.weights) else 0.0
        return min(done + cur * self.local, 1.0 if self.status == "succeeded" else 0.99)

    def next_step(self) -> None:
        self.step += 1
        self.local = 0.0
        self._models = {}

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "symbol": self.symbol,
            "status": self.status,
            "progress": round(self.progress, 4),
            "percent": int(round(self.progress * 100)),
            "message": self.message,
            "step": min(self.step + 1, len(self.steps)),
            "steps": len(self.steps),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "returncode": self.returncode,
            "events": list(self.events)[-10:],
        }

    @property
    def active(self) -> bool:
        return self.status in {"queued", "running"}

    def on_event(self, ev: dict) -> None:
        self.events.append(ev)
        kind = ev.get("event")
        if kind == "start":
            for m in ev.get("models") or []:
                self._models.setdefault(str(m), 0.0)
            if ev.get("models"):
                self.message = f"training {', '.join(map(str, ev['models']))}"
            elif "refit_every" in ev or "test_days" in ev:
                self.message = "walk-forward backtest started"
            else:
                self.message = f"{self.kind} started"
        elif kind == "epoch":
            model = str(ev.get("model", "model"))
            try:
                frac = float(ev.get("epoch", 0)) / max(float(ev.get("of", 1)), 1.0)
            except (TypeError, ValueError):
                frac = 0.0
            self._models[model] = min(max(frac, 0.0), 1.0)
            self.message = f"training {model}: epoch {ev.get('epoch')} of {ev.get('of')}"
        elif kind == "export":
            self.message = f"exporting {ev.get('model', 'model')} to LiteRT"
        elif kind == "published":
            model = str(ev.get("model", "model"))
            self._models[model] = 1.0
            self.message = f"published {model} {ev.get('version', '')}".strip()
        elif kind == "fold":
            try:
                self.local = min(float(ev.get("fold", 0)) / max(float(ev.get("of", 1)), 1.0), 1.0)
            except (TypeError, ValueError):
                pass
            self.message = f"backtest fold {ev.get('fold')} of {ev.get('of')}"
        elif kind == "progress":
            try:
                self.local = min(max(float(ev.get("fraction", 0.0)), 0.0), 1.0)
            except (TypeError, ValueError):
                pass
            self.message = str(ev.get("message") or ev.get("stage") or "working")
        elif kind == "done":
            self.local = 1.0
            self.message = "done" if self.step + 1 >= len(self.steps) else "step done"
            if ev.get("ok") is False:
                self.item_failures.append("reported failure")
        elif kind is None and "symbol" in ev and "ok" in ev:  # per-symbol result (refresh)
            sym = str(ev.get("symbol"))
            if ev.get("ok"):
                self.message = f"{sym}: updated"
            else:
                self.item_failures.append(sym)
                self.message = f"{sym}: failed: {str(ev.get('error') or '')[:200]}"
        elif kind == "error":
            self.message = str(ev.get("message") or "failed")[:500]
        elif kind:
            self.message = str(ev.get("message") or kind)[:200]
        if self._models and kind in ("epoch", "published"):
            # the expected number of models is announced by "start"; otherwise assume two
            n = max(len(self._models), 2)
            self.local = min(sum(self._models.values()) / n, 1.0)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


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
        job.status = "running"
        job.started_at = time.time()
        job.message = "starting"
        log.info("job started", extra={"job_id": job.id, "kind": job.kind, "symbol": job.symbol})
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        stderr_tail: deque[str] = deque(maxlen=20)
        for index, argv in enumerate(job.steps):
            if index:
                job.next_step()
            job.argv = argv
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    bufsize=1,
                    start_new_session=True,
                )
                self._proc = proc
                err_thread = threading.Thread(
                    target=lambda p=proc: [stderr_tail.append(ln.rstrip()) for ln in p.stderr],
                    daemon=True,
                )
                err_thread.start()
                for line in proc.stdout:
                    line = line.strip()
                    if not line.startswith("{"):
                        continue
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(ev, dict):
                        job.on_event(ev)
                job.returncode = proc.wait()
                err_thread.join(timeout=2)
            except OSError as exc:
                job.returncode = -1
                job.message = f"could not start: {exc.strerror}"
            finally:
                self._proc = None
            if job.returncode != 0 or job.status == "cancelled":
                break
        job.finished_at = time.time()
        if job.status == "cancelled":
            pass
        elif job.returncode == 0 and job.item_failures:
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
                last = next((ln for ln in reversed(stderr_tail) if ln.strip()), "")
                job.message = f"exited with code {job.returncode}" + (
                    f": {last[-300:]}" if last else ""
                )
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
        notify_finished(self._on_finish, job)

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
