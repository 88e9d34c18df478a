#!/usr/bin/env python3
"""Profile the web hot paths in-process with pyinstrument (no server, no load generator):

    python bench/web_profile.py [--home DIR] [--requests 5000] [--path /api/v1/...]

Uses the benchmark home of web_bench.py (bench/out/web-home) and production logging to a temp
file, and prints pyinstrument's call tree of the WSGI app handling the requests."""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wsgi_get(app, path: str) -> int:
    status = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "REMOTE_ADDR": "127.0.0.1",
    }
    body = app(environ, lambda s, h, e=None: status.append(s))
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return int(status[0][:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", type=Path, default=HERE / "out" / "web-home")
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--path", default="/api/v1/symbols/MSFT/forecast")
    args = ap.parse_args()
    os.environ["STOCKSENSE_HOME"] = str(args.home)
    os.environ.setdefault("STOCKSENSE_SECRET_KEY", "profile-" + "k" * 32)
    from pyinstrument import Profiler

    from stocksense.web import create_app
    from stocksense.web.config import load_web_config
    from stocksense.web.logs import configure_logging

    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    sys.stderr = log  # production logging, to a file
    configure_logging("INFO")
    app = create_app(load_web_config().with_overrides(trusted_proxies=0))
    assert wsgi_get(app, args.path) == 200
    profiler = Profiler(interval=0.0002)
    t0 = time.perf_counter()
    with profiler:
        for _ in range(args.requests):
            wsgi_get(app, args.path)
    elapsed = time.perf_counter() - t0
    sys.stderr = sys.__stderr__
    print(f"{args.requests} x GET {args.path}: {elapsed / args.requests * 1e6:.0f} us each "
          f"in-process (profiled), load average {os.getloadavg()[0]:.2f}")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
