"""`stocksense wait-ready`: poll a URL until it answers 200 (the role's health gate and rollback).

Standard library only, so it runs from any release's virtualenv as root without touching the
app's data.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import click

from stocksense.cli.common import EXIT_FAILED, finish

POLL_SECONDS = 0.5
BODY_LIMIT = 1000


def probe(url: str) -> tuple[int | None, str]:
    """(HTTP status or None when nothing answered, the start of the body or the error)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - the caller's URL
            return resp.status, resp.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def wait_for_200(url: str, timeout: float) -> tuple[int | None, str]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = probe(url)
        if status == 200 or time.monotonic() >= deadline:
            return status, body.strip()[:BODY_LIMIT]
        time.sleep(POLL_SECONDS)


@click.command("wait-ready")
@click.option("--url", required=True, help="e.g. http://127.0.0.1:5005/ready")
@click.option("--timeout", type=click.FloatRange(min=0), required=True, help="Seconds to wait.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def wait_ready(url: str, timeout: float, as_json: bool) -> None:
    """Poll URL every half second until it answers 200; exit 1 when it never did.

    JSON: {"ok": bool, "ready": bool, "status": HTTP status or null, "body": the last answer}.
    """
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--url")
    status, body = wait_for_200(url, timeout)
    ready = status == 200
    finish(as_json, f"{url}: {'ready' if ready else 'not ready'} (last status {status})",
           ok=ready, code=0 if ready else EXIT_FAILED, ready=ready, status=status, body=body)
