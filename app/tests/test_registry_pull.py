"""`stocksense models push --from s3://... --to FOLDER`: an instance pulling the S3 registry into
its local one (the app role's stocksense-registry-pull unit), serving reading only the folder.

moto stands in for S3: the `s3` fixture (conftest.py, tests/moto_s3.py) gives each test a fresh
bucket on a `moto.server.ThreadedMotoServer` on 127.0.0.1, reached through AWS_ENDPOINT_URL as
the instance reaches S3. The CLI runs as a real subprocess; boto3, HTTP and the folder are real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from moto_s3 import fake_aws_env
from pg import free_port

from stocksense.layout import MODEL_NAMES
from stocksense.registry import open_registry

PREFIX = "registry"


def _payload(version: str, size: int = 32 * 1024) -> bytes:
    seed = version.encode()
    return (seed * (size // len(seed) + 1))[:size]


def _publish_all(remote, version: str, symbol: str = "MSFT") -> None:
    """A version of each served model, published into moto's bucket through the protocol."""
    for name in MODEL_NAMES:
        remote.publish(symbol, name, _payload(f"{version}-{name}"), {"window": 20},
                       version=version, extra_files={"model.keras": _payload(version + "-k")})


def _pull(env: dict[str, str], tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    child = {**env, "STOCKSENSE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "stocksense", "models", "push", "--from",
                           source, "--to", str(tmp_path / "local"), "--json"], env=child,
                          capture_output=True, text=True, check=False, timeout=120)


def _flip_byte(client, bucket: str, key: str) -> None:
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def _tree(folder: Path) -> dict[str, int]:
    """Every file under folder with its mtime: what a pull that writes nothing leaves alone."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_moto_s3_pull_copies_the_latest_versions_once_then_follows_a_new_one(s3,
                                                                            tmp_path: Path):
    env, _client, bucket = s3
    url = f"s3://{bucket}/{PREFIX}"
    remote = open_registry(url)
    _publish_all(remote, "v1")

    first = _pull(env, tmp_path, url)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["ok"] and result["changed"] and result["refused"] == []
    assert {(p["model"], p["version"]) for p in result["pushed"]} == {(n, "v1")
                                                                      for n in MODEL_NAMES}
    local = open_registry(str(tmp_path / "local"))
    assert local.latest_versions() == remote.latest_versions()
    for name in MODEL_NAMES:  # the serving path's own hash check passes on the copy
        assert local.load("MSFT", name)[1] == _payload(f"v1-{name}")

    before = _tree(tmp_path / "local")
    second = _pull(env, tmp_path, url)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["changed"] is False
    assert _tree(tmp_path / "local") == before  # nothing written the second time

    _publish_all(remote, "v2")
    third = json.loads(_pull(env, tmp_path, url).stdout)
    assert third["changed"] is True
    assert {n: local.latest_version("MSFT", n) for n in MODEL_NAMES} == dict.fromkeys(
        MODEL_NAMES, "v2")


def test_moto_s3_a_corrupt_object_is_refused_and_the_local_version_keeps_serving(s3,
                                                                                tmp_path: Path):
    """A flipped byte in the newer version's model file: exit 1 naming the object, nothing of
    that model written locally; the other model, intact, still moves."""
    env, client, bucket = s3
    url = f"s3://{bucket}/{PREFIX}"
    remote = open_registry(url)
    _publish_all(remote, "v1")
    assert _pull(env, tmp_path, url).returncode == 0
    _publish_all(remote, "v2")
    bad, good = MODEL_NAMES[0], MODEL_NAMES[1]
    key = f"{PREFIX}/MSFT/{bad}/versions/v2/model.tflite"
    _flip_byte(client, bucket, key)

    run = _pull(env, tmp_path, url)
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert f"s3://{bucket}/{key}: sha256 mismatch" in run.stderr
    assert "Traceback" not in run.stderr
    result = json.loads(run.stdout)
    assert [(r["symbol"], r["model"]) for r in result["refused"]] == [("MSFT", bad)]
    local = open_registry(str(tmp_path / "local"))
    assert local.latest_version("MSFT", bad) == "v1"
    assert local.load("MSFT", bad)[1] == _payload(f"v1-{bad}")
    assert not (tmp_path / "local" / "MSFT" / bad / "versions" / "v2").exists()
    assert local.latest_version("MSFT", good) == "v2"


def test_moto_s3_an_empty_prefix_pulls_nothing_and_succeeds(s3, tmp_path: Path):
    """A fresh bucket (nothing published yet): the instance keeps its own models."""
    env, _client, bucket = s3
    run = _pull(env, tmp_path, f"s3://{bucket}/{PREFIX}")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"ok": True, "changed": False, "pushed": [], "refused": []}
    assert "0 of 0 model(s) published" in run.stderr


def test_unreachable_s3_or_a_missing_bucket_is_exit_2_with_one_clear_line(s3, tmp_path: Path):
    """moto stands in for S3; a closed port on 127.0.0.1 stands in for an unreachable endpoint."""
    env, _client, bucket = s3
    closed = {**env, **fake_aws_env(f"http://127.0.0.1:{free_port()}")}
    for run_env, source, says in [
            (closed, f"s3://{bucket}/{PREFIX}", f"opening s3://{bucket}/{PREFIX}"),
            (env, f"s3://no-such-bucket-here/{PREFIX}", "no-such-bucket-here"),
            (env, "s3://Bad_Bucket!/x", "not a valid S3 registry URL"),
            (env, str(tmp_path / "nowhere"), "no such registry folder")]:
        run = _pull(run_env, tmp_path, source)
        assert run.returncode == 2, (source, run.stdout, run.stderr)
        assert says in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert not (tmp_path / "local").exists()
