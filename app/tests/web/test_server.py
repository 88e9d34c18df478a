"""The real waitress server on a loopback port: forecasts, health, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import TINY_ENV, TRAINED, cli_prefix


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_waitress_serves_and_stops_on_sigterm(web_home, admin_hash, tmp_path):
    port = free_port()
    env_file = tmp_path / "stocksense.env"
    env_file.write_text(
        f"STOCKSENSE_SECRET_KEY={'x' * 40}\nSTOCKSENSE_ADMIN_PASSWORD_HASH='{admin_hash}'\n"
    )
    env = {
        **os.environ,
        **TINY_ENV,
        "STOCKSENSE_HOME": str(web_home),
        "STOCKSENSE_ENV_FILE": str(env_file),
    }
    proc = subprocess.Popen(
        cli_prefix() + ["serve", "--port", str(port), "--threads", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                status, _, body = get(base + "/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline, "server did not start"
                time.sleep(0.2)
        assert status == 200, body
        status, headers, body = get(f"{base}/api/v1/symbols/{TRAINED}/forecast")
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["symbol"] == TRAINED
        status, headers, body = get(f"{base}/api/v1/symbols/bad!!/forecast")
        assert status == 400 and headers["Content-Type"] == "application/problem+json"
        status, headers, _ = get(base + "/")
        assert status == 200 and "default-src 'self'" in headers["Content-Security-Policy"]
        # behind nginx: X-Forwarded-Proto https makes the request secure (ProxyFix, 1 proxy)
        req = urllib.request.Request(base + "/version", headers={"X-Forwarded-Proto": "https"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers.get("Strict-Transport-Security")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(ln) for ln in err.splitlines() if ln.startswith("{")]
    msgs = [ln["msg"] for ln in lines]
    assert "listening" in msgs and msgs[-1] == "stopped"
    access = [ln for ln in lines if ln.get("logger") == "stocksense.web.access"]
    assert any(
        ln["path"] == f"/api/v1/symbols/{TRAINED}/forecast" and ln["status"] == 200 for ln in access
    )
    assert admin_hash not in err and "x" * 40 not in err
