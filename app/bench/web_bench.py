#!/usr/bin/env python3
"""Web benchmark: the forecast endpoint and the dashboard overview under load, LiteRT (production)
vs Keras in-process, side by side.

    python bench/web_bench.py [--home DIR] [--duration 6] [--connections 8]

* Needs a STOCKSENSE_HOME with both models published for every bundled symbol; without --home it
  builds one under bench/out/web-home with the ML core's `stocksense.testing.build_tiny_home`
  (seed + tiny train/backtest per symbol), reused by later runs.
* The Keras variant is the ML core's `stocksense.pipeline.keras_serving.KerasForecastService`
  (same interface, TensorFlow in process), served by the same web app.
* Each variant runs as its own `waitress` server process pinned to CPU 0; the load generator runs in
  another process pinned to CPU 1: Debian's `wrk` (with bench/web_wrk.lua for percentiles) when
  installed, otherwise a small Python keep-alive client.
* Phase "cached": the production path (forecasts cached per symbol, model version and data as-of).
* Phase "overview": the dashboard overview page `/` (rendered once while its inputs do not change).
  Phase "uncached": every request runs inference, which isolates the inference runtime.
* After at least 10,000 requests the server's RSS is read from /proc.
It prints a table and writes bench/out/web_bench.json.  Loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
MIN_REQUESTS = 10_000
BUNDLED = ("AMZN", "MSFT", "NVDA")


def build_home(home: Path) -> None:
    """Seed the bundled prices and train + backtest tiny models for every bundled symbol (once)."""
    marker = home / ".bench-ready"
    if marker.exists():
        return
    from stocksense.testing import build_tiny_home

    home.mkdir(parents=True, exist_ok=True)
    print(
        f"building benchmark home in {home} (seed + tiny train/backtest of {', '.join(BUNDLED)})",
        flush=True,
    )
    t0 = time.time()
    build_tiny_home(home, symbols=BUNDLED, backtest=True)
    print(f"  built in {time.time() - t0:.0f}s", flush=True)
    marker.write_text("ok\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu: int):
    def _fn():
        try:
            if cpu < os.cpu_count():
                os.sched_setaffinity(0, {cpu})
        except (AttributeError, OSError):
            pass

    return _fn


# ---------------------------------------------------------------------------------------------
# server side (runs in the child process)


def serve_variant(variant: str, home: str, port: int, cached: bool) -> None:
    os.environ["STOCKSENSE_HOME"] = home
    os.environ.setdefault("STOCKSENSE_SECRET_KEY", "bench-" + "k" * 32)
    from stocksense.config import load_settings
    from stocksense.data.db import get_engine
    from stocksense.web import create_app
    from stocksense.web.backend import Backend
    from stocksense.web.cli import run_server
    from stocksense.web.config import load_web_config
    from stocksense.web.logs import configure_logging

    configure_logging(
        "INFO"
    )  # production logging: one JSON access line per request (to a temp file)
    settings = load_settings()
    engine = get_engine(settings)
    if variant == "litert":
        from stocksense.serving import ForecastService

        service = ForecastService(settings, engine)
    else:
        from stocksense.pipeline.keras_serving import KerasForecastService

        service = KerasForecastService(settings, engine)
    cfg = load_web_config().with_overrides(
        port=port, threads=int(os.environ.get("BENCH_THREADS", "4")), trusted_proxies=0
    )
    if os.environ.get("BENCH_SWITCH"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH"]))
    backend = Backend(
        settings,
        engine,
        service,
        cache_size=cfg.forecast_cache_size,
        recheck=cfg.forecast_recheck_seconds,
        cache_enabled=cached,
    )
    app = create_app(cfg, backend=backend)
    for sym in BUNDLED:  # load every model before measuring
        backend.forecast_json(sym)
    run_server(cfg, app)


# ---------------------------------------------------------------------------------------------
# load generators (run in another process)


def python_load(port: int, connections: int, duration: float, paths: list[str]) -> dict:
    """Keep-alive client: `connections` threads, each one connection, round-robin over paths."""
    import threading

    lat: list[float] = []
    errors = [0]
    stop = time.perf_counter() + duration
    lock = threading.Lock()

    def worker(i: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local = []
        n = i
        while time.perf_counter() < stop:
            path = paths[n % len(paths)]
            n += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            local.append(time.perf_counter() - t0)
        with lock:
            lat.extend(local)

    t_start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_start
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")

    return {
        "tool": "python",
        "requests": len(lat),
        "errors": errors[0],
        "seconds": elapsed,
        "rps": len(lat) / elapsed,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": lat[-1] * 1000 if lat else float("nan"),
    }


def wrk_load(port: int, connections: int, duration: float, paths: list[str]) -> dict:
    env = {**os.environ, "BENCH_PATHS": ",".join(paths)}
    cmd = [
        shutil.which("wrk"),
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{max(1, int(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(HERE / "web_wrk.lua"),
        f"http://127.0.0.1:{port}",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=pin(1))
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {p.stdout[-1000:]} {p.stderr[-1000:]}")
    res = json.loads(line[len("BENCH_JSON ") :])
    res["tool"] = "wrk"
    return res


def load(tool: str, port: int, connections: int, duration: float, paths: list[str]) -> dict:
    if tool == "wrk":
        return wrk_load(port, connections, duration, paths)
    # the Python client runs in its own process pinned to CPU 1
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import web_bench as b; "
        f"print(json.dumps(b.python_load({port}, {connections}, {duration}, {paths!r})))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=pin(1)
    )
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def rss_mb(pid: int) -> tuple[float, float]:
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":", 1)
            vals[k] = int(v.split()[0]) / 1024
    return vals.get("VmRSS", float("nan")), vals.get("VmHWM", float("nan"))


def run_variant(
    variant: str,
    home: Path,
    cached: bool,
    tool: str,
    connections: int,
    duration: float,
    min_requests: int,
    phase: str = "forecast",
) -> dict:
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            variant,
            "--home",
            str(home),
            "--port",
            str(port),
        ]
        + ([] if cached else ["--uncached"]),
        stdout=log,
        stderr=log,
        preexec_fn=pin(0),
    )
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"{variant} server failed to start: {log.read()[-3000:].decode()}"
                    ) from None
                time.sleep(0.25)
        paths = ["/"] if phase == "overview" else [f"/api/v1/symbols/{s}/forecast" for s in BUNDLED]
        for path in paths:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                assert r.status == 200
        rss_start, _ = rss_mb(proc.pid)
        runs = []
        total = 0
        while total < min_requests and len(runs) < 10:
            res = load(tool, port, connections, duration, paths)
            runs.append(res)
            total += res["requests"]
        main = max(
            runs, key=lambda r: r["requests"]
        )  # report the fullest run; all runs count to RSS
        rss, hwm = rss_mb(proc.pid)
        return {
            "variant": variant,
            "phase": phase if cached else "uncached",
            "cached": cached,
            **main,
            "total_requests": total,
            "rss_start_mb": rss_start,
            "rss_mb": rss,
            "rss_peak_mb": hwm,
            "runs": len(runs),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--duration", type=float, default=6.0, help="seconds per load run (default 6)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--variants", default="litert,keras")
    ap.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--skip-uncached", action="store_true")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--uncached", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.serve:
        serve_variant(args.serve, str(args.home), args.port, cached=not args.uncached)
        return

    home = args.home or (OUT / "web-home")
    build_home(home)
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    load_before = os.getloadavg()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    results = []
    plan = [("forecast", True), ("overview", True)] + ([] if args.skip_uncached else [
        ("forecast", False)
    ])
    for phase, cached in plan:
        for variant in variants:
            n = MIN_REQUESTS if cached else 0
            label = phase if cached else "uncached"
            print(f"... {variant} {label} with {tool}, {args.connections} connections", flush=True)
            results.append(
                run_variant(
                    variant,
                    home,
                    cached,
                    tool,
                    args.connections,
                    args.duration if cached else min(args.duration, 4.0),
                    n or 1,
                    phase,
                )
            )
    phases = [p for p, _ in plan if _] + ([] if args.skip_uncached else ["uncached"])

    print()
    print(
        f"forecast endpoint and overview page, {args.connections} connections, "
        f"server pinned to CPU 0, load on CPU 1 ({tool})"
    )
    hdr = (
        f"{'variant':<8} {'phase':<9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'requests':>9} {'errors':>6} "
        f"{'RSS MB':>7} {'peak MB':>8}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        print(
            f"{r['variant']:<8} {r['phase']:<9} "
            f"{r['rps']:>8.0f} {r['p50_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['total_requests']:>9} {r['errors']:>6} {r['rss_mb']:>7.1f} "
            f"{r['rss_peak_mb']:>8.1f}"
        )
    by = {(r["variant"], r["phase"]): r for r in results}
    print()
    for phase in phases:
        a, b = by.get(("litert", phase)), by.get(("keras", phase))
        if a and b:
            print(
                f"{phase}: "
                f"LiteRT is {a['rps'] / b['rps']:.2f}x the Keras "
                f"throughput, p99 {b['p99_ms'] / a['p99_ms']:.2f}x lower, "
                f"RSS {b['rss_mb'] / a['rss_mb']:.2f}x smaller"
            )
    lit = by.get(("litert", "forecast"))
    if lit:
        ok = lit["rps"] >= 3000 and lit["p99_ms"] <= 10 and lit["errors"] == 0
        verdict = "MET" if ok else "NOT MET"
        print(
            f"forecast target (>= 3000 req/s, p99 <= 10 ms, no errors): {verdict}"
            f" ({lit['rps']:.0f} req/s = {lit['rps'] / 3000:.0%} of target,"
            f" p99 {lit['p99_ms']:.1f} ms,"
            f" RSS {lit['rss_mb']:.0f} MB after {lit['total_requests']} requests)"
        )
    page = by.get(("litert", "overview"))
    if page:
        ok = page["rps"] >= 2000 and page["errors"] == 0
        print(
            f"overview target (>= 2000 req/s, no errors): {'MET' if ok else 'NOT MET'}"
            f" ({page['rps']:.0f} req/s = {page['rps'] / 2000:.0%} of target)"
        )
    load_after = os.getloadavg()
    print(
        f"machine load average (1 min) before/after: {load_before[0]:.2f}/{load_after[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
        + (
            "  <- other work was running: latency figures are pessimistic"
            if max(load_before[0], load_after[0]) > 2.5
            else ""
        )
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "web_bench.json").write_text(json.dumps(results, indent=2))
    print(f"results: {OUT / 'web_bench.json'}")


if __name__ == "__main__":
    main()
