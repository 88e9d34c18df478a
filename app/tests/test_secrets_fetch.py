"""`stocksense secrets fetch`: SSM SecureString parameters written to 0600 files for systemd's
LoadCredential=. moto stands in for SSM (tests/moto_s3.py's server answers every AWS service):
boto3, the HTTP traffic and the files are real. Run as the credentials unit runs it, a subprocess;
the secret must never appear in what the command prints.
"""

from __future__ import annotations

import itertools
import json
import stat
from pathlib import Path

import pytest
from moto_s3 import fake_aws_env
from pg import free_port

from stocksense.testing import run_cli

SECRET = "s3cr€t p@ss/word:with%URL&chars"
_numbers = itertools.count(1)


@pytest.fixture
def ssm(moto_endpoint: str) -> tuple[dict[str, str], str]:
    """moto stands in for SSM: (the environment sending boto3 there, a fresh parameter path)
    holding db/password = SECRET and app/key = a second secret, both SecureString."""
    import boto3

    env = fake_aws_env(moto_endpoint)
    client = boto3.client("ssm", endpoint_url=moto_endpoint, region_name=env["AWS_DEFAULT_REGION"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    path = f"/stocksense/t{next(_numbers)}"
    client.put_parameter(Name=f"{path}/db/password", Value=SECRET, Type="SecureString")
    client.put_parameter(Name=f"{path}/app/key", Value="second-" + SECRET, Type="SecureString")
    return env, path


def fetch(env: dict[str, str], tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    proc = run_cli(tmp_path / "home", "secrets", "fetch", *args, "--json", env=env, timeout=120)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr  # one JSON object on stdout
    assert "Traceback" not in proc.stderr
    output = proc.stdout + proc.stderr
    assert SECRET not in output and "s3cr" not in output, "a secret value was printed"
    return proc.returncode, json.loads(lines[0]), proc.stderr


def test_moto_stands_in_for_ssm_values_written_0600_and_never_printed(ssm, tmp_path: Path) -> None:
    env, path = ssm
    out = tmp_path / "creds"
    out.mkdir(mode=0o700)
    code, summary, _ = fetch(env, tmp_path, "--parameter", f"{path}/db/password=database-password",
                             "--parameter", f"{path}/app/key=secret-key", "--to-dir", str(out))
    assert code == 0, summary
    assert summary == {"ok": True, "to_dir": str(out), "written": [
        {"parameter": f"{path}/db/password", "file": "database-password"},
        {"parameter": f"{path}/app/key", "file": "secret-key"}]}
    assert (out / "database-password").read_text(encoding="utf-8") == SECRET
    assert (out / "secret-key").read_text(encoding="utf-8") == "second-" + SECRET
    for name in ("database-password", "secret-key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["database-password", "secret-key"]


def test_moto_stands_in_for_ssm_a_second_fetch_replaces_the_file(ssm, tmp_path: Path) -> None:
    env, path = ssm
    target = tmp_path / "database-password"
    target.write_text("old")
    target.chmod(0o644)
    inode = target.stat().st_ino
    code, _, _ = fetch(env, tmp_path, "--parameter", f"{path}/db/password=database-password",
                       "--to-dir", str(tmp_path))
    assert code == 0
    assert target.read_text(encoding="utf-8") == SECRET
    assert target.stat().st_ino != inode, "written in place, not renamed over"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".database-password.*")), "a temp file was left"


def test_moto_stands_in_for_ssm_a_missing_parameter_exits_1_naming_it_and_writes_nothing(
        ssm, tmp_path: Path) -> None:
    env, path = ssm
    out = tmp_path / "creds"
    out.mkdir()
    code, summary, stderr = fetch(env, tmp_path, "--parameter", f"{path}/db/password=one",
                                  "--parameter", f"{path}/db/nope=two", "--to-dir", str(out))
    assert code == 1 and summary["ok"] is False
    assert f"{path}/db/nope" in summary["error"] and f"{path}/db/nope" in stderr
    assert not list(out.iterdir()), "nothing is written unless every parameter was fetched"


def test_moto_stands_in_for_ssm_an_unreachable_endpoint_exits_1(ssm, tmp_path: Path) -> None:
    env, path = ssm
    dead = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    code, summary, _ = fetch(dead, tmp_path, "--parameter", f"{path}/db/password=p",
                             "--to-dir", str(tmp_path))
    assert code == 1 and "GetParameters" in summary["error"]
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("pair", ["no-equals-sign", "/a/b=../escape", "/a/b=sub/dir",
                                  "/a/b=", "=file", "/a b=file", "/a/b=.."])
def test_bad_parameter_pairs_exit_2(ssm, tmp_path: Path, pair: str) -> None:
    env, _ = ssm
    code, summary, stderr = fetch(env, tmp_path, "--parameter", pair, "--to-dir", str(tmp_path))
    assert code == 2 and summary["ok"] is False and "--parameter" in stderr


def test_a_parameter_or_file_given_twice_and_a_missing_directory_exit_2(ssm, tmp_path: Path
                                                                        ) -> None:
    env, path = ssm
    code, summary, _ = fetch(env, tmp_path, "--parameter", f"{path}/db/password=a",
                             "--parameter", f"{path}/app/key=a", "--to-dir", str(tmp_path))
    assert code == 2 and "only once" in summary["error"]
    code, summary, _ = fetch(env, tmp_path, "--parameter", f"{path}/db/password=a",
                             "--to-dir", str(tmp_path / "absent"))
    assert code == 2 and "not an existing directory" in summary["error"]
