"""`stocksense backup` and `stocksense restore`: what the daily timer and the restore playbook run.

Failures print one JSON line on stderr, {"event": "backup_failed" (or "restore_failed"),
"error": ...}, with no secrets and no traceback: the journal, and the alarm reading it, get one
clear line.
"""

from __future__ import annotations

import json
import sys

import click

from stocksense.cli.common import emit_json

DEST_HELP = "A local directory or s3://bucket/prefix (S3 uses the instance role's credentials)."


@click.command()
@click.option("--to", "dest", required=True, metavar="DEST", help=DEST_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def backup(dest: str, as_json: bool) -> None:
    """Back up the database and the model registry to DEST while the service runs.

    SQLite is copied with its online backup API, PostgreSQL with pg_dump --format=custom. Files
    are stored once by sha256 under DEST/objects/sha256/, the manifest under
    DEST/backups/<id>/manifest.json, then DEST/backups/LATEST names the new backup.

    JSON: {"ok": true, "backup": ID, "files": N, "bytes": total, "uploaded_bytes": n,
    "skipped": k, "seconds": t}. Exit 1 on any failure.
    """
    from stocksense.backup import run_backup

    summary = _run("backup_failed", as_json, lambda settings: run_backup(dest, settings))
    _print(summary, as_json, f"backup {summary['backup']}: {summary['files']} files, "
           f"{summary['bytes']} bytes ({summary['uploaded_bytes']} uploaded, "
           f"{summary['skipped']} already there) in {summary['seconds']} s")


@click.command()
@click.option("--from", "dest", required=True, metavar="DEST", help=DEST_HELP)
@click.option("--backup", "backup_id", default="latest", show_default=True, metavar="ID|latest",
              help="Which backup: its id (e.g. 20261201T173000Z) or latest.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def restore(dest: str, backup_id: str, as_json: bool) -> None:
    """Restore the database and the model registry from a backup. STOP THE SERVICE FIRST
    (systemctl stop stocksense): restore replaces the files it has open.

    Every object is downloaded into a staging folder and checked against the manifest's size and
    sha256 before anything is replaced; then the database and the registry are renamed into place
    (the previous ones are kept as *.before-restore until the swap succeeded).

    JSON: {"ok": true, "restored": ID, "files": N, "bytes": n, "seconds": t}. Exit 1 when the
    backup is missing or corrupt (nothing is changed), 2 when its manifest comes from a newer
    StockSense.
    """
    from stocksense.backup import run_restore

    summary = _run("restore_failed", as_json,
                   lambda settings: run_restore(dest, settings, backup_id))
    _print(summary, as_json, f"restored {summary['restored']}: {summary['files']} files, "
           f"{summary['bytes']} bytes in {summary['seconds']} s")


def _run(event: str, as_json: bool, action) -> dict:  # type: ignore[no-untyped-def]
    from stocksense.backup import BackupError
    from stocksense.config import load_settings

    try:
        return action(load_settings())
    except BackupError as exc:
        _fail(event, str(exc), exc.exit_code, as_json)
    except ValueError as exc:  # settings: a malformed STOCKSENSE_* value
        _fail(event, str(exc), 1, as_json)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        _fail(event, f"unexpected {type(exc).__name__}: {exc}", 1, as_json)
    raise AssertionError("unreachable")


def _fail(event: str, message: str, code: int, as_json: bool) -> None:
    sys.stderr.write(json.dumps({"event": event, "error": message}) + "\n")
    if as_json:
        emit_json({"ok": False, "error": message})
    raise SystemExit(code)


def _print(summary: dict, as_json: bool, text: str) -> None:
    if as_json:
        emit_json({"ok": True, **summary})
    else:
        click.echo(text)
