"""`stocksense secrets fetch`: SSM SecureString parameters written to files, for systemd's
LoadCredential= (the app role's stocksense-credentials.service runs it before the app starts).

The values are only ever written to the files (0600, temp file + rename, so a reader never sees
half a secret): never printed, never logged. The JSON summary and every error name parameters and
files only; botocore's messages name the operation and the error code, never a value.
boto3 comes with the `backup` extra and is imported only when the command runs.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import click

from stocksense.cli.common import EXIT_FAILED, fail, finish

# SSM parameter names: letters, digits and _.-/ (a path like /stocksense/prod/db/password).
_PARAMETER = re.compile(r"^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
# A credential file name, as LoadCredential= takes it: one path component.
_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
# GetParameters accepts at most 10 names per call.
_BATCH = 10


class FetchFailed(Exception):
    """SSM could not be reached, refused the call, or has no such parameter."""


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """{parameter name: file name} from NAME=FILE pairs; ValueError naming the bad pair."""
    wanted: dict[str, str] = {}
    for pair in pairs:
        name, sep, file = pair.partition("=")
        if not sep or not _PARAMETER.match(name) or not _FILE.match(file) or file in {".", ".."}:
            raise ValueError(f"--parameter {pair!r}: expected NAME=FILE, NAME an SSM parameter "
                             "name (/path/to/name) and FILE a plain file name")
        if name in wanted or file in wanted.values():
            raise ValueError(f"--parameter {pair!r}: each parameter and each file only once")
        wanted[name] = file
    return wanted


def open_ssm(region: str | None, endpoint_url: str | None) -> Any:
    """A boto3 SSM client with the default credential chain (the instance role on EC2)."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ModuleNotFoundError as exc:
        raise FetchFailed("boto3 is not installed: secrets fetch needs "
                          "pip install 'stocksense[backup]'") from exc
    try:
        return boto3.client("ssm", region_name=region or None, endpoint_url=endpoint_url or None,
                            config=Config(connect_timeout=5, read_timeout=10,
                                          retries={"max_attempts": 3, "mode": "standard"}))
    except BotoCoreError as exc:
        raise FetchFailed(f"cannot open SSM: {exc}") from exc


def fetch_values(client: Any, names: list[str]) -> dict[str, str]:
    """{name: decrypted value} for every name; FetchFailed naming what is missing or failed."""
    from botocore.exceptions import BotoCoreError, ClientError

    values: dict[str, str] = {}
    missing: list[str] = []
    for start in range(0, len(names), _BATCH):
        batch = names[start:start + _BATCH]
        try:
            answer = client.get_parameters(Names=batch, WithDecryption=True)
        except (BotoCoreError, ClientError) as exc:
            raise FetchFailed(f"ssm GetParameters {', '.join(batch)} failed: {exc}") from None
        missing += answer.get("InvalidParameters", [])
        values.update({p["Name"]: p["Value"] for p in answer.get("Parameters", [])})
    missing += [name for name in names if name not in values and name not in missing]
    if missing:
        raise FetchFailed(f"no such SSM parameter (or not readable): {', '.join(missing)}")
    return values


def write_secret(directory: Path, file: str, value: str) -> None:
    """`value` into directory/file, mode 0600, through a temp file renamed over the old one."""
    fd, temp = tempfile.mkstemp(prefix=f".{file}.", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(value)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, directory / file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@click.group()
def secrets() -> None:
    """Secrets the instance reads at service start (SSM Parameter Store)."""


@secrets.command("fetch")
@click.option("--parameter", "pairs", multiple=True, required=True, metavar="NAME=FILE",
              help="An SSM parameter and the file name it is written to (repeatable).")
@click.option("--to-dir", "to_dir", required=True, metavar="DIR",
              help="Existing directory the files go to (e.g. the unit's RuntimeDirectory).")
@click.option("--region", default=None, help="AWS region (default: boto3's, AWS_DEFAULT_REGION).")
@click.option("--endpoint-url", default=None, metavar="URL",
              help="SSM endpoint for a local stand-in (moto); default AWS "
                   "(botocore also honours AWS_ENDPOINT_URL_SSM).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def fetch(pairs: tuple[str, ...], to_dir: str, region: str | None, endpoint_url: str | None,
          as_json: bool) -> None:
    """Fetch SecureString parameters (decrypted) and write each to DIR/FILE, mode 0600.

    Values are never printed. JSON: {"ok": true, "to_dir", "written": [{"parameter", "file"}]}.
    Exit 1 a parameter could not be fetched (nothing is written then), 2 bad arguments.
    """
    try:
        wanted = parse_pairs(pairs)
    except ValueError as exc:
        fail(as_json, str(exc), to_dir=to_dir)
    directory = Path(to_dir)
    if not directory.is_dir():
        fail(as_json, f"--to-dir {to_dir}: not an existing directory", to_dir=to_dir)
    try:
        values = fetch_values(open_ssm(region, endpoint_url), list(wanted))
    except FetchFailed as exc:
        fail(as_json, str(exc), EXIT_FAILED, to_dir=to_dir)
    try:
        for name, file in wanted.items():
            write_secret(directory, file, values[name])
    except OSError as exc:
        fail(as_json, f"cannot write into {to_dir}: {exc.strerror}", EXIT_FAILED, to_dir=to_dir)
    written = [{"parameter": name, "file": file} for name, file in wanted.items()]
    finish(as_json, f"wrote {len(written)} secret(s) into {to_dir}: "
           f"{', '.join(w['file'] for w in written)}", to_dir=to_dir, written=written)
