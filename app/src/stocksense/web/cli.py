"""`stocksense serve` and `stocksense create-admin` (registered on the ML core's click group)."""

from __future__ import annotations

import getpass
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

import click

from .config import DEFAULT_HOST, DEFAULT_PORT, ConfigError

log = logging.getLogger("stocksense.web.serve")

HASH_VAR = "STOCKSENSE_ADMIN_PASSWORD_HASH"


@click.command("serve")
@click.option(
    "--host", default=None, help=f"Bind address (default {DEFAULT_HOST}, or STOCKSENSE_HOST)."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"Port (default {DEFAULT_PORT}, or STOCKSENSE_PORT).",
)
@click.option(
    "--threads", type=click.IntRange(1, 64), default=None, help="Worker threads (default 4)."
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Env file with STOCKSENSE_* settings (default: STOCKSENSE_ENV_FILE).",
)
@click.option(
    "--print-static-dir",
    is_flag=True,
    help="Print the folder of the static files (for nginx to serve at /static/) and exit.",
)
def serve(
    host: str | None,
    port: int | None,
    threads: int | None,
    env_file: str | None,
    print_static_dir: bool,
) -> None:
    """Serve the dashboard and API with waitress (LiteRT inference only)."""
    if print_static_dir:
        click.echo(Path(__file__).resolve().parent / "static")
        return
    from .logs import capture_native_stderr, configure_logging

    configure_logging()
    capture_native_stderr()
    from .config import load_web_config, merged_environ

    try:
        environ = merged_environ(None, env_file)
        cfg = load_web_config(environ)
    except ConfigError as exc:
        log.error("refusing to start: %s", exc)
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    # ML-core settings read the same merged environment (env file included)
    for key, value in environ.items():
        if key.startswith("STOCKSENSE_"):
            os.environ.setdefault(key, value)
    cfg = cfg.with_overrides(
        host=host or cfg.host, port=port or cfg.port, threads=threads or cfg.threads
    )
    if cfg.secret_key_ephemeral:
        log.warning(
            "no STOCKSENSE_SECRET_KEY: using an ephemeral key (development mode); "
            "sessions end on restart"
        )
    if not cfg.admin_password_hash:
        log.warning(
            "no %s: admin login is disabled until one is set (stocksense create-admin)", HASH_VAR
        )
    run_server(cfg)


def run_server(cfg, app=None, ready=None) -> None:
    """Run waitress until SIGTERM/SIGINT; finish in-flight requests, stop background jobs."""
    from waitress.server import create_server

    from . import create_app

    if app is None:
        app = create_app(cfg)
    backend = app.extensions["stocksense.backend"]
    reasons = backend.warm_up()  # loads the models now, not on the first request
    log.info("models checked", extra={"ok": not reasons, "reasons": reasons})
    server = create_server(
        app,
        host=cfg.host,
        port=cfg.port,
        threads=cfg.threads,
        ident="stocksense",
        channel_timeout=30,
        connection_limit=200,
        clear_untrusted_proxy_headers=False,
    )

    def _stop(signum, frame):  # noqa: ARG001
        log.info("signal received, shutting down", extra={"signal": signal.Signals(signum).name})
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "listening",
        extra={
            "url": f"http://{cfg.host}:{server.effective_port}",
            "threads": cfg.threads,
            "env": cfg.env,
        },
    )
    if ready is not None:
        ready(server)
    try:
        server.run()  # waitress catches SystemExit and drains its task queue
    finally:
        app.extensions["stocksense.jobs"].shutdown()
        try:
            server.close()
        except Exception:  # noqa: BLE001
            pass
        log.info("stopped")


def _read_password(password_env: str) -> str:
    pw = os.environ.get(password_env)
    if pw:
        return pw
    if sys.stdin.isatty():
        first = getpass.getpass("Admin password: ")
        second = getpass.getpass("Repeat: ")
        if first != second:
            raise click.ClickException("passwords do not match")
        return first
    data = sys.stdin.readline()
    return data.rstrip("\r\n")


def write_env_var(path: Path, key: str, value: str) -> None:
    """Set KEY='value' in an env file (created 0600), keeping the other lines."""
    lines: list[str] = []
    if path.exists():
        lines = [
            ln
            for ln in path.read_text(encoding="utf-8").splitlines()
            if not ln.strip().removeprefix("export ").startswith(key + "=")
        ]
    lines.append(f"{key}='{value}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".env.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("create-admin")
@click.option(
    "--password-env",
    default="STOCKSENSE_ADMIN_PASSWORD",
    show_default=True,
    help="Environment variable holding the password; otherwise it is read from stdin.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Write {HASH_VAR} into this env file (mode 0600) instead of printing it.",
)
@click.option("--min-length", type=int, default=12, show_default=True)
def create_admin(password_env: str, env_file: Path | None, min_length: int) -> None:
    """Hash the admin password (Argon2id). Prints the env line to add, never the password."""
    from .auth import hash_password

    password = _read_password(password_env)
    if len(password) < min_length:
        raise click.ClickException(f"the password must have at least {min_length} characters")
    hashed = hash_password(password)
    del password
    if env_file is not None:
        write_env_var(env_file, HASH_VAR, hashed)
        click.echo(f"wrote {HASH_VAR} to {env_file}", err=True)
    else:
        click.echo(f"{HASH_VAR}='{hashed}'")


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(create_admin)
