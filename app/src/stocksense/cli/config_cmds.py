"""`stocksense config check`: validate a settings or secrets env file before it is installed.

The app role runs it as the `validate` of its templates, with the new release's CLI, so a file the
new code cannot read never replaces the running one. Values are never printed, only what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

from stocksense.cli.common import EXIT_FAILED, fail, finish

SECRET_KEYS = frozenset({"STOCKSENSE_SECRET_KEY", "STOCKSENSE_ADMIN_PASSWORD_HASH"})
# Settings are checked without their secrets file: a stand-in key lets the web config load.
PLACEHOLDER_SECRET = {"STOCKSENSE_SECRET_KEY": "placeholder-for-validation-only-0123456789"}


class InvalidConfig(ValueError):
    pass


def check_secrets(values: Mapping[str, str]) -> None:
    from stocksense.web.config import load_web_config

    unknown = set(values) - SECRET_KEYS
    if unknown:
        raise InvalidConfig(f"unexpected keys in the secrets file: {sorted(unknown)}")
    digest = values.get("STOCKSENSE_ADMIN_PASSWORD_HASH")
    if digest and not digest.startswith("$argon2id$"):
        raise InvalidConfig("STOCKSENSE_ADMIN_PASSWORD_HASH is not an Argon2id hash")
    if "STOCKSENSE_SECRET_KEY" in values:
        load_web_config(environ=dict(values))


def check_settings(values: Mapping[str, str]) -> None:
    from stocksense.config import load_settings
    from stocksense.web.config import load_web_config

    leaked = set(values) & SECRET_KEYS
    if leaked:
        raise InvalidConfig(f"secrets belong in the secrets file: {sorted(leaked)}")
    environ = {**PLACEHOLDER_SECRET, **values}
    load_settings(environ)
    load_web_config(environ=environ)


CHECKS = {"settings": check_settings, "secrets": check_secrets}


@click.group()
def config() -> None:
    """Configuration files of a deployment."""


@config.command("check")
@click.option("--kind", type=click.Choice(sorted(CHECKS)), required=True,
              help="settings (stocksense.env) or secrets (secrets.env).")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def check(kind: str, file: str, as_json: bool) -> None:
    """Check FILE with the app's own parser and rules; exit 1 (saying why) when it is invalid."""
    from stocksense.config import read_env_file
    from stocksense.web.config import ConfigError

    try:
        values = read_env_file(file)
        CHECKS[kind](values)
    except OSError as exc:
        fail(as_json, f"cannot read {file}: {exc.strerror}", kind=kind)
    except (InvalidConfig, ConfigError, ValueError) as exc:
        fail(as_json, f"invalid {kind} file: {exc}", code=EXIT_FAILED, kind=kind)
    finish(as_json, f"{file}: valid {kind} file ({len(values)} keys)", kind=kind, keys=len(values))
