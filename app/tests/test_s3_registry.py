"""The s3:// model registry: publish, list, read back, the `latest` protocol and the local cache.

moto stands in for S3: a `moto.server.ThreadedMotoServer` on 127.0.0.1 (a free port), reached
through AWS_ENDPOINT_URL exactly as the instance and the controller reach S3 (botocore reads the
variable); the `s3` fixture (conftest.py, tests/moto_s3.py) gives each test a fresh bucket. The
registry code, boto3, the HTTP traffic and the cache on disk are all real.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stocksense.config import Settings, load_settings
from stocksense.registry import CorruptArtifact, RegistryUnavailable, open_registry
from stocksense.registry.cache import CachedRegistry
from stocksense.registry.manifest import sha256_hex

FILES = ("model.tflite", "model.keras", "meta.json", "manifest.json")


def _payload(version: str, size: int = 64 * 1024) -> bytes:
    """Distinct, checkable bytes for each version."""
    seed = version.encode()
    return (seed * (size // len(seed) + 1))[:size]


def _publish(registry, version: str, symbol: str = "MSFT", model: str = "lstm") -> dict:
    return registry.publish(symbol, model, _payload(version), {"window": 20}, version=version,
                            extra_files={"model.keras": _payload(version + "-keras")})


def _flip_byte(client, bucket: str, key: str) -> None:
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))


class _Requests:
    """Counts every HTTP request one boto3 client sends (moto stands in for S3 behind it)."""

    def __init__(self, client) -> None:
        self.calls: list[tuple[str, str]] = []  # (HTTP method, last part of the object key)
        client.meta.events.register("before-send.s3", self._seen)

    def _seen(self, request, **_kwargs) -> None:
        self.calls.append((request.method, request.url.split("?")[0].rsplit("/", 1)[-1]))


# --- publish, list, read back -------------------------------------------------------------------

def test_publish_list_and_read_back(s3) -> None:
    _env, client, bucket = s3
    registry = open_registry(f"s3://{bucket}/stack-a/models")
    assert registry.latest_version("MSFT", "lstm") is None and registry.symbols() == []
    _publish(registry, "v1")
    published = _publish(registry, "v2")
    _publish(registry, "n1", symbol="NVDA", model="transformer")

    assert registry.versions("MSFT", "lstm") == ["v1", "v2"]
    assert registry.symbols() == ["MSFT", "NVDA"] and registry.model_names("MSFT") == ["lstm"]
    assert registry.latest_versions(["MSFT"]) == {"MSFT": {"transformer": None, "lstm": "v2"}}
    meta, data = registry.load("MSFT", "lstm")
    assert data == _payload("v2") and meta["content_hash"] == published["content_hash"]
    assert meta["artifact_uri"] == f"s3://{bucket}/stack-a/models/MSFT/lstm/versions/v2/model.tflite"
    assert registry.load("MSFT", "lstm", "v1")[1] == _payload("v1")
    assert registry.load_extra("MSFT", "lstm", "v1", "model.keras") == _payload("v1-keras")

    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    base = "stack-a/models/MSFT/lstm"
    assert {f"{base}/versions/v2/{name}" for name in FILES} | {f"{base}/latest"} <= keys
    manifest_raw = client.get_object(Bucket=bucket, Key=f"{base}/versions/v2/manifest.json")[
        "Body"].read()
    manifest = json.loads(manifest_raw)
    assert {f["name"]: f["size"] for f in manifest["files"]} == {
        "model.tflite": len(_payload("v2")), "model.keras": len(_payload("v2-keras")),
        "meta.json": len(registry.store.read_bytes("MSFT/lstm/versions/v2/meta.json"))}
    pointer = json.loads(client.get_object(Bucket=bucket, Key=f"{base}/latest")["Body"].read())
    assert pointer == {"version": "v2", "manifest_sha256": sha256_hex(manifest_raw)}


def test_publish_writes_files_then_manifest_then_pointer(s3) -> None:
    """The order of the PUTs themselves, as S3 receives them."""
    _env, _client, bucket = s3
    registry = open_registry(f"s3://{bucket}/p")
    seen = _Requests(registry.store.client)
    _publish(registry, "v1")
    puts = [name for method, name in seen.calls if method == "PUT"]
    assert puts == ["model.keras", "model.tflite", "meta.json", "manifest.json", "latest"]


# --- latest-pointer atomicity -------------------------------------------------------------------

class _SlowStore:
    """A store whose writes take a while (a slow uplink): widens every window a reader could hit."""

    def __init__(self, store, delay: float) -> None:
        self._store, self._delay = store, delay

    def write_bytes(self, key: str, data: bytes) -> None:
        self._store.write_bytes(key, data)
        time.sleep(self._delay)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def test_a_reader_never_sees_a_half_written_version(s3) -> None:
    """A reader polls `latest` and loads each version it names while versions are published.

    Every load must find every file of the version with its manifest's size and sha256 (and
    the model bytes that version was published with). Writing the pointer before the files
    makes this test fail (shown once; see the report of the S3 registry change).
    """
    _env, _client, bucket = s3
    url = f"s3://{bucket}/atomic"
    publisher = open_registry(url)
    publisher.store = _SlowStore(publisher.store, delay=0.03)
    reader = open_registry(url)  # its own client, as another instance would have
    _publish(publisher, "v00")
    problems: list[str] = []
    seen: set[str] = set()
    loads = 0
    done = threading.Event()

    def read_forever() -> None:
        nonlocal loads
        while not done.is_set():
            version, manifest_sha = reader.pointer("MSFT", "lstm")
            try:
                files = reader.fetch_version("MSFT", "lstm", version, manifest_sha)
            except CorruptArtifact as exc:
                problems.append(str(exc))
                continue
            if files["model.tflite"] != _payload(version):
                problems.append(f"{version}: model bytes of another version")
            seen.add(version)
            loads += 1

    thread = threading.Thread(target=read_forever)
    thread.start()
    try:
        for k in range(1, 7):
            _publish(publisher, f"v{k:02d}")
    finally:
        done.set()
        thread.join(timeout=30)
    assert problems == []
    assert len(seen) >= 3 and loads >= 10, (seen, loads)  # the reader really raced the publisher


# --- content hashes verified on load ------------------------------------------------------------

@pytest.mark.parametrize("name", FILES)
def test_a_flipped_byte_in_any_object_is_refused(s3, tmp_path: Path, name: str) -> None:
    _env, client, bucket = s3
    remote = open_registry(f"s3://{bucket}/r")
    cache = CachedRegistry(remote, tmp_path / "cache", poll_seconds=0)
    _publish(remote, "v1")
    assert cache.refresh("MSFT", "lstm") == "v1"
    _publish(remote, "v2")
    _flip_byte(client, bucket, f"r/MSFT/lstm/versions/v2/{name}")

    with pytest.raises(CorruptArtifact) as refused:
        cache.refresh("MSFT", "lstm")
    assert f"s3://{bucket}/r/MSFT/lstm/versions/v2/{name}" in str(refused.value)
    assert "refused" in str(refused.value) or "mismatch" in str(refused.value)
    # v1 keeps serving: pointer, bytes, and nothing of v2 in the cache
    assert cache.latest_version("MSFT", "lstm") == "v1"
    assert cache.load("MSFT", "lstm")[1] == _payload("v1")
    assert not (tmp_path / "cache/MSFT/lstm/versions/v2").exists()
    assert cache.refused[("MSFT", "lstm")].startswith(f"s3://{bucket}/r/MSFT/lstm/versions/v2/")


def test_a_version_without_manifest_is_not_followed(s3, tmp_path: Path) -> None:
    """A pointer naming a version whose manifest is missing: refused, the old version serves."""
    _env, client, bucket = s3
    remote = open_registry(f"s3://{bucket}/m")
    cache = CachedRegistry(remote, tmp_path / "cache", poll_seconds=0)
    _publish(remote, "v1")
    cache.refresh("MSFT", "lstm")
    _publish(remote, "v2")
    client.delete_object(Bucket=bucket, Key="m/MSFT/lstm/versions/v2/manifest.json")
    with pytest.raises(CorruptArtifact, match="manifest.json: missing"):
        cache.refresh("MSFT", "lstm")
    assert cache.latest_version("MSFT", "lstm") == "v1"


# --- the read-through cache under ForecastService ------------------------------------------------

@pytest.fixture
def s3_home(trained_copy: Settings, s3) -> Settings:
    """The tiny trained home, its models pushed to S3 and its registry folder removed."""
    import shutil

    env, _client, bucket = s3
    local = open_registry(trained_copy.registry_url)
    remote = open_registry(f"s3://{bucket}/reg")
    for name in ("transformer", "lstm"):
        version, changed = local.push_latest(remote, "MSFT", name)
        assert version is not None and changed
    shutil.rmtree(trained_copy.registry_url)
    from stocksense.testing import TINY_ENV

    return load_settings({**TINY_ENV, **env, "STOCKSENSE_HOME": str(trained_copy.home),
                          "STOCKSENSE_REGISTRY": f"s3://{bucket}/reg",
                          "STOCKSENSE_REGISTRY_POLL_SECONDS": "30"})


def test_serving_reads_the_cache_and_follows_new_versions(s3_home: Settings, s3) -> None:
    from stocksense.data.db import get_engine
    from stocksense.serving import ForecastService

    _env, client, bucket = s3
    engine = get_engine(s3_home)
    svc = ForecastService(s3_home, engine)
    assert isinstance(svc.registry, CachedRegistry)
    now = [1000.0]
    svc.registry.clock = lambda: now[0]
    requests = _Requests(svc.registry.remote.store.client)

    first = svc.forecast("MSFT")  # warm-up: pointers, manifests and files fetched once
    assert svc.health()["ok"] is True  # ... and the symbol listing
    assert requests.calls, "the warm-up must have read S3"
    assert (s3_home.registry_cache / "MSFT/lstm/versions" / first["models"]["lstm"][
        "model_version"] / "model.tflite").is_file()
    requests.calls.clear()
    token = svc.state_token("MSFT")
    for _ in range(25):
        assert svc.forecast("MSFT")["models"] == first["models"]
        assert svc.state_token("MSFT") == token
    assert svc.health()["ok"] is True
    assert requests.calls == []  # N forecasts after warm-up: no S3 request at all

    # A new version published to S3 (the same network, shifted scaler: visibly different).
    remote = open_registry(f"s3://{bucket}/reg")
    meta, data = remote.load("MSFT", "lstm")
    meta = {k: v for k, v in meta.items() if k not in ("version", "content_hash", "artifact_uri")}
    meta["scaler"] = {**meta["scaler"], "target_mean": meta["scaler"]["target_mean"] + 0.01}
    remote.publish("MSFT", "lstm", data, meta, version="zz-new",
                   extra_files={"model.keras": b"keras"})
    assert svc.forecast("MSFT")["models"]["lstm"]["model_version"] != "zz-new"  # not yet due
    assert requests.calls == []
    now[0] += 31  # the poll interval has passed: the same process, no restart
    second = svc.forecast("MSFT")
    assert second["models"]["lstm"]["model_version"] == "zz-new"
    assert second["models"]["lstm"]["predicted_return"] != first["models"]["lstm"][
        "predicted_return"]
    assert svc.state_token("MSFT") != token

    # A corrupt next version: refused by name, zz-new keeps serving, no error to the caller.
    remote.publish("MSFT", "lstm", data, meta, version="zz-bad",
                   extra_files={"model.keras": b"keras"})
    _flip_byte(client, bucket, "reg/MSFT/lstm/versions/zz-bad/model.tflite")
    now[0] += 31
    third = svc.forecast("MSFT")
    assert third["models"]["lstm"]["model_version"] == "zz-new"
    assert "zz-bad/model.tflite" in svc.registry.refused[("MSFT", "lstm")]
    assert svc.health()["ok"] is True
    answer = _web_get(s3_home, engine, svc, "/api/v1/symbols/MSFT/forecast")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["models"]["lstm"]["model_version"] == "zz-new"
    engine.dispose()


def _web_get(settings: Settings, engine, service, path: str):
    """One request through the real web app, serving from `service` (no 500 on a refusal)."""
    from stocksense.web import create_app
    from stocksense.web.auth import hash_password
    from stocksense.web.config import load_web_config

    config = load_web_config({"STOCKSENSE_ENV": "testing", "STOCKSENSE_SECRET_KEY": "t" * 32,
                              "STOCKSENSE_ADMIN_PASSWORD_HASH": hash_password("x" * 16)})
    app = create_app(config, settings=settings, engine=engine, forecast_service=service)
    try:
        return app.test_client().get(path)
    finally:
        if "stocksense.metrics" in app.extensions:  # only when EMF metrics are configured
            app.extensions["stocksense.metrics"].stop()
        app.extensions["stocksense.jobs"].shutdown()


def test_first_fetch_refused_names_the_object(s3_home: Settings, s3) -> None:
    """Nothing cached yet and the only version is corrupt: a clear ModelUnavailable, not a 500."""
    from stocksense.data.db import get_engine
    from stocksense.serving import ForecastService, ModelUnavailable

    _env, client, bucket = s3
    for name in ("transformer", "lstm"):
        version = open_registry(f"s3://{bucket}/reg").latest_version("MSFT", name)
        _flip_byte(client, bucket, f"reg/MSFT/{name}/versions/{version}/meta.json")
    engine = get_engine(s3_home)
    svc = ForecastService(s3_home, engine)
    with pytest.raises(ModelUnavailable, match=r"meta.json: .*sha256 mismatch"):
        svc.forecast("MSFT")
    health = svc.health()
    assert health["ok"] is False and any("meta.json" in r for r in health["reasons"])
    engine.dispose()


# --- the CLI: publishing into S3 from the controller ---------------------------------------------

def _cli(env: dict[str, str], home: Path, *args: str) -> subprocess.CompletedProcess:
    child = {**env, "STOCKSENSE_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "stocksense", *args], env=child,
                          capture_output=True, text=True, check=False, timeout=120)


def test_models_push_publishes_into_s3_once(trained_home: Path, s3, tmp_path: Path) -> None:
    env, _client, bucket = s3
    env = {**env, "STOCKSENSE_REGISTRY": f"s3://{bucket}/ctl"}
    pushed = _cli(env, tmp_path, "models", "push", "--from", str(trained_home / "registry"),
                  "--json")
    assert pushed.returncode == 0, pushed.stderr
    result = json.loads(pushed.stdout)
    assert result["ok"] and result["changed"] and len(result["pushed"]) == 2
    again = json.loads(_cli(env, tmp_path, "models", "push", "--from",
                            str(trained_home / "registry"), "--json").stdout)
    assert again["changed"] is False  # idempotent: nothing written the second time
    listed = _cli(env, tmp_path, "models", "list", "MSFT", "--complete", "--json")
    assert listed.returncode == 0, listed.stderr
    local = open_registry(str(trained_home / "registry")).latest_versions(["MSFT"])
    assert json.loads(listed.stdout)["symbols"] == local


@pytest.mark.parametrize(("registry", "extra_env", "message"), [
    ("s3://Bad_Bucket!/x", {}, "not a valid S3 registry URL"),
    ("s3://no-such-bucket-here/x", {}, "no-such-bucket-here.*(NoSuchBucket|Not Found|404)"),
    ("ftp://host/registry", {}, "unsupported registry URL"),
    (None, {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"},
     "credentials"),
    (None, {"AWS_PROFILE": "no-such-profile"}, "cannot open s3://.*no-such-profile"),
])
def test_bad_targets_are_a_clear_error_before_any_training(s3, tmp_path: Path, registry,
                                                           extra_env, message) -> None:
    """train and models push: exit 2, one line naming the problem, no stack trace."""
    env, _client, bucket = s3
    env = {**env, **extra_env, "STOCKSENSE_REGISTRY": registry or f"s3://{bucket}/x"}
    env = {k: v for k, v in env.items() if v != ""}
    commands = [("train", "MSFT", "--model", "lstm")]
    if "bucket" in message.lower():  # the same check; one more command is enough
        commands.append(("models", "push", "--from", str(tmp_path)))
    for args in commands:
        run = _cli(env, tmp_path / "home", *args)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr
        assert re.search(message, run.stderr, re.IGNORECASE), run.stderr


def test_unreadable_registry_url_setting_opens_nothing(tmp_path: Path) -> None:
    with pytest.raises(RegistryUnavailable, match="expected s3://bucket/prefix"):
        open_registry("s3://")
