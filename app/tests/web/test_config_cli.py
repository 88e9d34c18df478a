"""Configuration, secret-key refusal, env file, create-admin (never prints the password)."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import cli_prefix

from stocksense.web.auth import verify_password
from stocksense.web.config import ConfigError, load_web_config, parse_env_file


def test_production_without_secret_refuses():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_web_config({})


def test_development_gets_ephemeral_key():
    cfg = load_web_config({"STOCKSENSE_ENV": "development"})
    assert cfg.secret_key and cfg.secret_key_ephemeral and not cfg.secure_cookies


def test_production_defaults():
    cfg = load_web_config({"STOCKSENSE_SECRET_KEY": "s" * 40})
    assert (cfg.host, cfg.port, cfg.trusted_proxies, cfg.secure_cookies) == (
        "127.0.0.1",
        5005,
        1,
        True,
    )


def test_secret_key_file_and_env_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("k" * 40 + "\n")
    env = tmp_path / "stocksense.env"
    env.write_text(
        f"# comment\nexport STOCKSENSE_SECRET_KEY_FILE={key}\nSTOCKSENSE_PORT='6001'\n"
        "STOCKSENSE_ADMIN_PASSWORD_HASH='$argon2id$v=19$m=19456,t=2,p=1$abc$def'\n"
    )
    cfg = load_web_config({"STOCKSENSE_PORT": "6002"}, env_file=env)
    assert cfg.secret_key == "k" * 40
    assert cfg.port == 6002  # the environment wins over the file
    assert cfg.admin_password_hash.startswith("$argon2id$")
    assert parse_env_file(env)["STOCKSENSE_PORT"] == "6001"


@pytest.mark.parametrize(
    "env",
    [
        {"STOCKSENSE_ENV": "prod"},
        {"STOCKSENSE_ENV": "development", "STOCKSENSE_PORT": "x"},
        {"STOCKSENSE_ENV": "development", "STOCKSENSE_PORT": "70000"},
        {"STOCKSENSE_SECRET_KEY": "short"},
    ],
)
def test_bad_config(env):
    with pytest.raises(ConfigError):
        load_web_config(env)


def _cli(*args, input=None, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSENSE_")}
    e.update(env or {})
    return subprocess.run(
        cli_prefix() + list(args), input=input, env=e, capture_output=True, text=True, timeout=60
    )


def test_create_admin_from_stdin_never_prints_password():
    pw = "a very secret passphrase"
    proc = _cli("create-admin", input=pw + "\n")
    assert proc.returncode == 0, proc.stderr
    assert pw not in proc.stdout and pw not in proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("STOCKSENSE_ADMIN_PASSWORD_HASH='$argon2id$")
    hashed = line.split("=", 1)[1].strip("'")
    assert verify_password(hashed, pw) and not verify_password(hashed, pw + "x")


def test_create_admin_from_env_into_env_file(tmp_path):
    pw = "another secret passphrase"
    env_file = tmp_path / "stocksense.env"
    env_file.write_text("STOCKSENSE_SECRET_KEY=keepme\nSTOCKSENSE_ADMIN_PASSWORD_HASH='old'\n")
    proc = _cli("create-admin", "--env-file", str(env_file), env={"STOCKSENSE_ADMIN_PASSWORD": pw})
    assert proc.returncode == 0, proc.stderr
    assert pw not in proc.stdout + proc.stderr and "$argon2id$" not in proc.stdout
    values = parse_env_file(env_file)
    assert values["STOCKSENSE_SECRET_KEY"] == "keepme"
    assert verify_password(values["STOCKSENSE_ADMIN_PASSWORD_HASH"], pw)
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert env_file.read_text().count("STOCKSENSE_ADMIN_PASSWORD_HASH") == 1


def test_create_admin_rejects_short_password():
    proc = _cli("create-admin", input="short\n")
    assert proc.returncode != 0 and "short" not in proc.stdout


def test_serve_refuses_without_secret_key(tmp_path):
    proc = _cli("serve", "--port", "1", env={"STOCKSENSE_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert "SECRET_KEY" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_help_lists_options():
    proc = _cli("serve", "--help")
    assert proc.returncode == 0
    for opt in ("--host", "--port", "--threads"):
        assert opt in proc.stdout


def test_json_logs_have_no_secrets(caplog):
    import json
    import logging

    from stocksense.web.logs import JsonFormatter

    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    rec.path = "/admin/login"
    out = json.loads(JsonFormatter().format(rec))
    assert out["msg"] == "hello world" and out["path"] == "/admin/login" and out["level"] == "info"


def test_serve_prints_static_dir():
    from pathlib import Path

    proc = _cli("serve", "--print-static-dir")
    assert proc.returncode == 0
    static = Path(proc.stdout.strip())
    assert (static / "vendor" / "chartjs" / "chart.umd.min.js").is_file()
    assert (static / "vendor" / "chartjs" / "LICENSE.md").is_file()
