"""`stocksense db copy`: move every table between SQLite and PostgreSQL (stocksense.data.copy)."""

from __future__ import annotations

import click

from stocksense.cli.common import EXIT_FAILED, fail, finish

URL_HELP = ("sqlite:////path/stocksense.db or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB "
            "(or from the environment variable, which keeps a password out of `ps`).")


@click.group()
def db() -> None:
    """The database itself: copy it between SQLite and PostgreSQL."""


@db.command("copy")
@click.option("--from", "source", required=True, envvar="STOCKSENSE_COPY_FROM", metavar="URL",
              help=f"Source database, never written. {URL_HELP}")
@click.option("--to", "target", default=None, envvar="STOCKSENSE_COPY_TO", metavar="URL",
              help=f"Target database; its schema is created when missing. {URL_HELP} "
                   "Default: the configured database (STOCKSENSE_DATABASE_URL with "
                   "STOCKSENSE_DATABASE_PASSWORD_FILE), so a migration never handles the password.")
@click.option("--force", is_flag=True, help="Replace the rows of a non-empty target.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def copy(source: str, target: str | None, force: bool, as_json: bool) -> None:
    """Copy every table from --from to --to in one transaction on the target, then check each
    table's row count and sha256 (rows ordered by primary key) against the source; a difference
    rolls the target back. Refuses a non-empty target unless --force.

    JSON: {"ok": true, "from", "to" (passwords masked), "tables": {NAME: {"rows", "sha256"}},
    "rows", "replaced", "seconds"}. Exit 1 copy_failed (with "table"), 2 bad URL, unreachable
    database or non-empty target (with "non_empty").
    """
    from sqlalchemy.exc import SQLAlchemyError

    from stocksense.data.copy import CopyError, CopyFailed, TargetNotEmpty, copy_database, mask_url

    if target is None:
        target = _configured_database(as_json)
    where = {"from": mask_url(source), "to": mask_url(target)}
    try:
        summary = copy_database(source, target, force=force)
    except CopyFailed as exc:
        fail(as_json, str(exc), EXIT_FAILED, table=exc.table, **where)
    except TargetNotEmpty as exc:
        fail(as_json, str(exc), exc.exit_code, non_empty=exc.tables, **where)
    except CopyError as exc:
        fail(as_json, str(exc), exc.exit_code, **where)
    except SQLAlchemyError as exc:  # mid-copy (the target was rolled back): one line, no traceback
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(as_json, f"copy failed, the target was rolled back: {lines[0] if lines else exc}",
             EXIT_FAILED, **where)
    else:
        finish(as_json, f"copied {summary['rows']} rows in {len(summary['tables'])} tables from "
               f"{where['from']} to {where['to']} in {summary['seconds']} s "
               f"({'replaced the target rows' if summary['replaced'] else 'target was empty'}); "
               "row counts and checksums match", **where, **summary)


def _configured_database(as_json: bool) -> str:
    """The app's own database URL, its password read from the password file (exit 2 if unusable)."""
    from stocksense.config import load_settings

    try:
        return load_settings().database_url
    except ValueError as exc:
        fail(as_json, f"--to omitted and the configured database is unusable: {exc}")
        raise  # fail() exits; this keeps type checkers sure target is a str
