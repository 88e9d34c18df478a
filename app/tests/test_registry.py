import json
from pathlib import Path

import pytest

from stocksense.registry import CorruptArtifact, open_registry


def test_publish_load_and_latest(tmp_path: Path) -> None:
    reg = open_registry(str(tmp_path / "reg"))
    assert reg.latest_version("MSFT", "lstm") is None
    m1 = reg.publish("MSFT", "lstm", b"one", {"window": 60}, version="v1",
                     extra_files={"model.keras": b"k1"})
    m2 = reg.publish("MSFT", "lstm", b"two", {"window": 60}, version="v2")
    assert reg.latest_version("MSFT", "lstm") == "v2"
    meta, data = reg.load("MSFT", "lstm")
    assert data == b"two" and meta["content_hash"] == m2["content_hash"]
    assert reg.load("MSFT", "lstm", "v1")[1] == b"one"
    assert reg.load_extra("MSFT", "lstm", "v1", "model.keras") == b"k1"
    assert m1["content_hash"].startswith("sha256:")
    assert reg.versions("MSFT", "lstm") == ["v1", "v2"]
    assert reg.symbols() == ["MSFT"] and reg.model_names("MSFT") == ["lstm"]
    # No temp files are left behind by the atomic writes.
    assert not [p for p in (tmp_path / "reg").rglob(".tmp-*")]


def test_corrupt_artifact_is_detected(tmp_path: Path) -> None:
    reg = open_registry(str(tmp_path))
    reg.publish("NVDA", "transformer", b"model-bytes", {}, version="v1")
    (tmp_path / "NVDA/transformer/versions/v1/model.tflite").write_bytes(b"model-bytez")
    with pytest.raises(CorruptArtifact, match="hash mismatch"):
        reg.load("NVDA", "transformer")
    (tmp_path / "NVDA/transformer/latest").write_text("{not json")
    with pytest.raises(CorruptArtifact, match="latest pointer"):
        reg.latest_version("NVDA", "transformer")


def test_half_published_version_is_not_served(tmp_path: Path) -> None:
    reg = open_registry(str(tmp_path))
    reg.publish("AMZN", "lstm", b"good", {}, version="v1")
    # A crash after writing the model file but before meta/latest:
    (tmp_path / "AMZN/lstm/versions/v2").mkdir(parents=True)
    (tmp_path / "AMZN/lstm/versions/v2/model.tflite").write_bytes(b"partial")
    assert reg.latest_version("AMZN", "lstm") == "v1"
    assert reg.load("AMZN", "lstm")[1] == b"good"
    assert json.loads((tmp_path / "AMZN/lstm/latest").read_text())["version"] == "v1"


def test_keys_cannot_escape_root(tmp_path: Path) -> None:
    reg = open_registry(str(tmp_path / "r"))
    with pytest.raises(ValueError):
        reg.store.write_bytes("../outside", b"x")


def test_every_version_has_a_manifest_named_by_latest(tmp_path: Path) -> None:
    from stocksense.registry.manifest import sha256_hex

    reg = open_registry(str(tmp_path))
    reg.publish("MSFT", "lstm", b"tflite", {}, version="v1", extra_files={"model.keras": b"k"})
    folder = tmp_path / "MSFT/lstm/versions/v1"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == "v1"
    assert {f["name"]: (f["size"], f["sha256"]) for f in manifest["files"]} == {
        name: (len((folder / name).read_bytes()), sha256_hex((folder / name).read_bytes()))
        for name in ("model.tflite", "model.keras", "meta.json")}
    pointer = json.loads((tmp_path / "MSFT/lstm/latest").read_text())
    assert pointer["manifest_sha256"] == sha256_hex((folder / "manifest.json").read_bytes())
    assert set(reg.fetch_version("MSFT", "lstm", "v1", pointer["manifest_sha256"])) == {
        "model.tflite", "model.keras", "meta.json", "manifest.json"}


def test_a_version_from_before_manifests_is_pushed_with_one(tmp_path: Path) -> None:
    """Registries published before manifests existed: checked against meta.json, then pushed."""
    old = open_registry(str(tmp_path / "old"))
    old.publish("MSFT", "lstm", b"tflite", {}, version="v1", extra_files={"model.keras": b"k"})
    (tmp_path / "old/MSFT/lstm/versions/v1/manifest.json").unlink()
    (tmp_path / "old/MSFT/lstm/latest").write_text('{"version": "v1"}')
    target = open_registry(str(tmp_path / "new"))
    assert old.push_latest(target, "MSFT", "lstm") == ("v1", True)
    assert old.push_latest(target, "MSFT", "lstm") == ("v1", False)
    version, manifest_sha = target.pointer("MSFT", "lstm")
    assert target.fetch_version("MSFT", "lstm", version, manifest_sha)["model.keras"] == b"k"
    (tmp_path / "old/MSFT/lstm/versions/v1/model.keras").write_bytes(b"x")
    with pytest.raises(CorruptArtifact, match="model.keras hash mismatch"):
        old.push_latest(open_registry(str(tmp_path / "third")), "MSFT", "lstm")
    assert not (tmp_path / "third").exists()


def test_unsupported_registry_urls_are_refused(tmp_path: Path) -> None:
    from stocksense.registry import RegistryUnavailable

    with pytest.raises(RegistryUnavailable, match="unsupported registry URL"):
        open_registry("gs://bucket/models")
    assert open_registry(f"file://{tmp_path}").store.root == tmp_path
