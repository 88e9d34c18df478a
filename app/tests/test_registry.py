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
    assert json.loads((tmp_path / "AMZN/lstm/latest").read_text()) == {"version": "v1"}


def test_keys_cannot_escape_root(tmp_path: Path) -> None:
    reg = open_registry(str(tmp_path / "r"))
    with pytest.raises(ValueError):
        reg.store.write_bytes("../outside", b"x")
