"""One admin job's state: its steps, progress and message, followed from the JSON lines the
`stocksense` CLI prints (`{"event": "epoch", "model": .., "epoch": .., "of": ..}`, the event
shape of stocksense.layout). web/jobs.py runs jobs; web/runners.py runs them as systemd units."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


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
        """Follow one JSON line of the CLI (stocksense.layout's event shape)."""
        self.events.append(ev)
        kind = ev.get("event")
        if kind in _EVENT_HANDLERS:
            _EVENT_HANDLERS[kind](self, ev)
        elif kind is None and "symbol" in ev and "ok" in ev:  # per-symbol result (refresh)
            self._on_symbol_result(ev)
        elif kind:
            self.message = str(ev.get("message") or kind)[:200]
        if self._models and kind in ("epoch", "published"):
            # the expected number of models is announced by "start"; otherwise assume two
            n = max(len(self._models), 2)
            self.local = min(sum(self._models.values()) / n, 1.0)

    def _on_start(self, ev: dict) -> None:
        for m in ev.get("models") or []:
            self._models.setdefault(str(m), 0.0)
        if ev.get("models"):
            self.message = f"training {', '.join(map(str, ev['models']))}"
        elif "refit_every" in ev or "test_days" in ev:
            self.message = "walk-forward backtest started"
        else:
            self.message = f"{self.kind} started"

    def _on_epoch(self, ev: dict) -> None:
        model = str(ev.get("model", "model"))
        frac = _fraction(ev.get("epoch", 0), ev.get("of", 1))
        self._models[model] = min(max(frac if frac is not None else 0.0, 0.0), 1.0)
        self.message = f"training {model}: epoch {ev.get('epoch')} of {ev.get('of')}"

    def _on_export(self, ev: dict) -> None:
        self.message = f"exporting {ev.get('model', 'model')} to LiteRT"

    def _on_published(self, ev: dict) -> None:
        model = str(ev.get("model", "model"))
        self._models[model] = 1.0
        self.message = f"published {model} {ev.get('version', '')}".strip()

    def _on_fold(self, ev: dict) -> None:
        frac = _fraction(ev.get("fold", 0), ev.get("of", 1))
        if frac is not None:
            self.local = min(frac, 1.0)
        self.message = f"backtest fold {ev.get('fold')} of {ev.get('of')}"

    def _on_progress(self, ev: dict) -> None:
        try:
            self.local = min(max(float(ev.get("fraction", 0.0)), 0.0), 1.0)
        except (TypeError, ValueError):
            pass
        self.message = str(ev.get("message") or ev.get("stage") or "working")

    def _on_done(self, ev: dict) -> None:
        self.local = 1.0
        self.message = "done" if self.step + 1 >= len(self.steps) else "step done"
        if ev.get("ok") is False:
            self.item_failures.append("reported failure")

    def _on_error(self, ev: dict) -> None:
        self.message = str(ev.get("message") or "failed")[:500]

    def _on_symbol_result(self, ev: dict) -> None:
        sym = str(ev.get("symbol"))
        if ev.get("ok"):
            self.message = f"{sym}: updated"
        else:
            self.item_failures.append(sym)
            self.message = f"{sym}: failed: {str(ev.get('error') or '')[:200]}"


_EVENT_HANDLERS: dict[str, Callable[[Job, dict], None]] = {
    "start": Job._on_start,
    "epoch": Job._on_epoch,
    "export": Job._on_export,
    "published": Job._on_published,
    "fold": Job._on_fold,
    "progress": Job._on_progress,
    "done": Job._on_done,
    "error": Job._on_error,
}


def _fraction(done: object, of: object) -> float | None:
    """done / of (of at least 1), or None when either is not a number."""
    try:
        return float(done) / max(float(of), 1.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
