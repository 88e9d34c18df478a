"""`stocksense backup` / `stocksense restore` on a real SQLite database and real registry files.

moto stands in for S3: a `moto.server.ThreadedMotoServer` on 127.0.0.1 (a free port), reached
through AWS_ENDPOINT_URL exactly as the instance would reach S3 (botocore reads the variable);
the `s3` fixture (conftest.py, tests/moto_s3.py) gives each test a fresh bucket.
Local-directory destinations need no stand-in.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stocksense.backup import SCHEMA_VERSION, BackupError, run_backup, run_restore
from stocksense.cli.backup_cmds import backup, restore
from stocksense.config import Settings, load_settings


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def home(seeded_engine, settings: Settings) -> Settings:
    """Bundled prices in the real SQLite file; a registry of real files (two versions, pointers)."""
    seeded_engine.dispose()
    reg = Path(settings.registry_url)
    for version, payload in (("v1", b"model-one" * 1000), ("v2", b"model-two" * 1000)):
        folder = reg / "MSFT" / "lstm" / "versions" / version
        folder.mkdir(parents=True)
        (folder / "model.tflite").write_bytes(payload)
        (folder / "meta.json").write_text(json.dumps({"version": version}))
    (reg / "MSFT" / "lstm" / "latest").write_text(json.dumps({"version": "v2"}))
    return settings


def _db(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def _wreck(settings: Settings) -> None:
    """Change the live data so a restore has something to undo."""
    conn = sqlite3.connect(_db(settings))
    conn.execute("DELETE FROM prices WHERE symbol = 'NVDA'")
    conn.commit()
    conn.close()
    shutil.rmtree(Path(settings.registry_url) / "MSFT" / "lstm" / "versions" / "v1")
    (Path(settings.registry_url) / "MSFT" / "lstm" / "latest").write_text('{"version": "v9"}')


def test_local_round_trip_is_byte_identical(home: Settings, tmp_path: Path):
    before_db, before_reg = _dump(_db(home)), _tree(Path(home.registry_url))
    summary = run_backup(str(tmp_path / "dest"), home)
    assert summary["files"] == 1 + len(before_reg)
    dest = tmp_path / "dest"
    assert (dest / "backups" / "LATEST").read_text().strip() == summary["backup"]
    manifest = json.loads((dest / "backups" / summary["backup"] / "manifest.json").read_text())
    # `latest` holds the same bytes as v2's meta.json: one blob, uploaded once
    unique = {f["sha256"]: f["size"] for f in manifest["files"]}
    assert summary["uploaded_bytes"] == sum(unique.values()) == summary["bytes"] - 17
    assert summary["skipped"] == 1
    assert sorted(p.name for p in (dest / "objects" / "sha256").iterdir()) == sorted(unique)
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["database_kind"] == "sqlite"
    assert {f["path"] for f in manifest["files"]} == {"database/stocksense.sqlite"} | {
        f"registry/{p}" for p in before_reg}

    _wreck(home)
    assert _dump(_db(home)) != before_db
    result = run_restore(str(dest), home)
    assert result["restored"] == summary["backup"] and result["files"] == summary["files"]
    assert _dump(_db(home)) == before_db
    assert _tree(Path(home.registry_url)) == before_reg
    assert not list(Path(home.home).glob("*.before-restore"))
    assert not list(Path(home.home).glob(".restore-*"))


def test_second_backup_uploads_only_changed_blobs(home: Settings, tmp_path: Path):
    first = run_backup(str(tmp_path / "dest"), home)
    new = Path(home.registry_url) / "MSFT" / "lstm" / "versions" / "v3"
    new.mkdir()
    (new / "model.tflite").write_bytes(b"model-three" * 500)
    second = run_backup(str(tmp_path / "dest"), home)
    assert second["backup"] != first["backup"]
    assert second["files"] == first["files"] + 1
    # the database did not change either: its snapshot hashes the same
    assert second["uploaded_bytes"] == len(b"model-three" * 500)
    assert second["skipped"] == first["files"]


def test_online_backup_while_a_writer_holds_a_transaction(home: Settings, tmp_path: Path):
    """The service keeps writing: the snapshot has the committed rows, not the open transaction."""
    writer = sqlite3.connect(_db(home), timeout=1)
    writer.execute("PRAGMA journal_mode=WAL")
    committed = _dump(_db(home))
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM prices")
    try:
        summary = run_backup(str(tmp_path / "dest"), home)
    finally:
        writer.rollback()
        writer.close()
    blob = _blob(tmp_path / "dest", summary["backup"], "database/stocksense.sqlite")
    assert _dump(blob) == committed


def _blob(dest: Path, backup_id: str, logical: str) -> Path:
    manifest = json.loads((dest / "backups" / backup_id / "manifest.json").read_text())
    digest = next(f["sha256"] for f in manifest["files"] if f["path"] == logical)
    return dest / "objects" / "sha256" / digest


def test_corrupt_blob_is_refused_and_nothing_changes(home: Settings, tmp_path: Path):
    summary = run_backup(str(tmp_path / "dest"), home)
    model = "registry/MSFT/lstm/versions/v2/model.tflite"
    blob = _blob(tmp_path / "dest", summary["backup"], model)
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x01  # one bit of one byte
    blob.write_bytes(bytes(data))
    _wreck(home)
    live_db, live_reg = _db(home).read_bytes(), _tree(Path(home.registry_url))

    result = CliRunner().invoke(restore, ["--from", str(tmp_path / "dest"), "--json"],
                                env={"STOCKSENSE_HOME": str(home.home)})
    assert result.exit_code == 1
    event = json.loads(result.stderr.strip().splitlines()[-1])
    assert event["event"] == "restore_failed"
    assert blob.name in event["error"] and "corrupt" in event["error"]
    assert "Traceback" not in result.output + result.stderr
    assert _db(home).read_bytes() == live_db
    assert _tree(Path(home.registry_url)) == live_reg
    leftovers = [p.name for p in Path(home.home).iterdir()
                 if p.name.startswith(".restore-") or p.name.endswith(".before-restore")]
    assert leftovers == []


def test_newer_schema_is_refused_with_exit_2(home: Settings, tmp_path: Path):
    summary = run_backup(str(tmp_path / "dest"), home)
    path = tmp_path / "dest" / "backups" / summary["backup"] / "manifest.json"
    doc = json.loads(path.read_text())
    doc["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(doc))
    live_db = _db(home).read_bytes()
    result = CliRunner().invoke(restore, ["--from", str(tmp_path / "dest")],
                                env={"STOCKSENSE_HOME": str(home.home)})
    assert result.exit_code == 2
    error = json.loads(result.stderr.strip())["error"]
    assert f"schema version {SCHEMA_VERSION + 1} is newer" in error
    assert _db(home).read_bytes() == live_db


@pytest.mark.parametrize(("dest", "message"), [
    ("ftp://example/backups", "unsupported destination"),
    ("s3://Not_A_Bucket/x", "not a valid S3 destination"),
    ("s3://", "not a valid S3 destination"),
    ("", "no destination given"),
])
def test_bad_destination_is_refused_clearly(home: Settings, dest: str, message: str):
    result = CliRunner().invoke(backup, ["--to", dest, "--json"],
                                env={"STOCKSENSE_HOME": str(home.home)})
    assert result.exit_code == 1
    event = json.loads(result.stderr.strip())
    assert event == {"event": "backup_failed", "error": event["error"]}
    assert message in event["error"]
    assert json.loads(result.stdout) == {"ok": False, "error": event["error"]}


def test_destination_that_is_a_file_is_refused(home: Settings, tmp_path: Path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BackupError, match="exists and is not a directory"):
        run_backup(str(tmp_path / "afile"), home)
    with pytest.raises(BackupError, match="does not exist"):
        run_restore(str(tmp_path / "nowhere"), home)


def test_unknown_backup_id_and_path_tricks_are_refused(home: Settings, tmp_path: Path):
    run_backup(str(tmp_path / "dest"), home)
    with pytest.raises(BackupError, match="not a backup id"):
        run_restore(str(tmp_path / "dest"), home, backup="../../etc")
    with pytest.raises(BackupError, match="not found"):
        run_restore(str(tmp_path / "dest"), home, backup="20000101T000000Z")


# --- S3 (moto stands in for S3) -----------------------------------------------------------------

def test_s3_round_trip_through_the_cli(home: Settings, s3, tmp_path: Path):
    """The commands as the timer and the restore playbook run them, in a child process."""
    env, client, bucket = s3
    dest = f"s3://{bucket}/stack-a"
    before_db, before_reg = _dump(_db(home)), _tree(Path(home.registry_url))
    child_env = {**env, "STOCKSENSE_HOME": str(home.home), "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "stocksense", *args],  # noqa: E731
                                       env=child_env, capture_output=True, text=True, check=False)
    made = run("backup", "--to", dest, "--json")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"stack-a/backups/{summary['backup']}/manifest.json" in keys
    assert "stack-a/backups/LATEST" in keys
    # one blob per distinct content (`latest` and v2's meta.json are the same bytes)
    assert sum(k.startswith("stack-a/objects/sha256/") for k in keys) == summary["files"] - 1

    again = json.loads(run("backup", "--to", dest, "--json").stdout)
    assert again["uploaded_bytes"] == 0 and again["skipped"] == again["files"]

    _wreck(home)
    restored = run("restore", "--from", dest, "--backup", summary["backup"], "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored"] == summary["backup"]
    assert _dump(_db(home)) == before_db
    assert _tree(Path(home.registry_url)) == before_reg


def test_s3_missing_bucket_is_a_clear_error(home: Settings, s3):
    with pytest.raises(BackupError, match="NoSuchBucket|does not exist"):
        run_backup("s3://no-such-bucket-here/x", home)


def test_s3_client_that_cannot_be_made_is_a_clear_error(home: Settings, s3):
    """A missing AWS profile: one line naming the destination, in a child process (boto3's
    default session keeps the profile it first saw)."""
    env, _client, bucket = s3
    child_env = {**env, "AWS_PROFILE": "no-such-profile", "STOCKSENSE_HOME": str(home.home),
                 "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "stocksense", "backup", "--to",
                          f"s3://{bucket}/x", "--json"], env=child_env, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 1, run.stderr
    error = json.loads(run.stdout)["error"]
    assert error.startswith(f"cannot open s3://{bucket}/x: ") and "no-such-profile" in error


def test_forecasts_identical_after_restore(trained_copy: Settings, tmp_path: Path):
    """Real tiny LiteRT models: the same forecast before the backup and after a restore."""
    from stocksense.data.db import get_engine
    from stocksense.serving import ForecastService

    def forecast() -> dict:
        engine = get_engine(trained_copy)
        try:
            return ForecastService(trained_copy, engine).forecast("MSFT")
        finally:
            engine.dispose()

    before = forecast()
    run_backup(str(tmp_path / "dest"), trained_copy)
    shutil.rmtree(trained_copy.registry_url)
    _db(trained_copy).unlink()
    run_restore(str(tmp_path / "dest"), trained_copy)
    assert json.dumps(forecast(), sort_keys=True, default=str) == json.dumps(
        before, sort_keys=True, default=str)


def test_settings_come_from_the_apps_loader(tmp_path: Path):
    """STOCKSENSE_DATABASE_URL and STOCKSENSE_REGISTRY move what is backed up."""
    settings = load_settings({"STOCKSENSE_HOME": str(tmp_path / "h"),
                              "STOCKSENSE_DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db"),
                              "STOCKSENSE_REGISTRY": str(tmp_path / "reg")})
    with pytest.raises(BackupError, match=str(tmp_path / "x.db")):
        run_backup(str(tmp_path / "dest"), settings)


def test_restore_into_a_fresh_home(home: Settings, tmp_path: Path):
    """A new instance: no database and no registry yet (the disaster-recovery drill's case)."""
    before_db, before_reg = _dump(_db(home)), _tree(Path(home.registry_url))
    run_backup(str(tmp_path / "dest"), home)
    fresh = load_settings({"STOCKSENSE_HOME": str(tmp_path / "fresh")})
    run_restore(str(tmp_path / "dest"), fresh)
    assert _dump(_db(fresh)) == before_db
    assert _tree(Path(fresh.registry_url)) == before_reg


def test_remote_registry_is_left_out_of_backup_and_restore(home: Settings, tmp_path: Path):
    """An s3:// registry keeps its own versions: the backup holds the database only, the restore
    touches the database only, and a backup holding model files is refused before any change."""
    remote = dataclasses.replace(home, registry_url="s3://models-bucket/registry")
    summary = run_backup(str(tmp_path / "db-only"), remote)
    manifest = json.loads(next((tmp_path / "db-only").rglob("manifest.json")).read_text())
    assert [f["path"] for f in manifest["files"]] == ["database/stocksense.sqlite"], summary
    before_db = _dump(_db(home))
    _wreck(home)
    local_reg = _tree(Path(home.registry_url))
    run_restore(str(tmp_path / "db-only"), remote)
    assert _dump(_db(home)) == before_db
    assert _tree(Path(home.registry_url)) == local_reg, "the restore touched a local folder"
    run_backup(str(tmp_path / "with-models"), home)
    live_db = _db(home).read_bytes()
    with pytest.raises(BackupError, match="not a local folder; nothing was restored"):
        run_restore(str(tmp_path / "with-models"), remote)
    assert _db(home).read_bytes() == live_db


def test_leftover_from_an_interrupted_restore_is_refused(home: Settings, tmp_path: Path):
    run_backup(str(tmp_path / "dest"), home)
    leftover = Path(home.registry_url).with_name("registry.before-restore")
    leftover.mkdir()
    live_db = _db(home).read_bytes()
    with pytest.raises(BackupError, match="interrupted restore"):
        run_restore(str(tmp_path / "dest"), home)
    assert _db(home).read_bytes() == live_db and leftover.is_dir()


def test_a_failed_swap_puts_the_previous_files_back(home: Settings, tmp_path: Path, monkeypatch):
    """The registry was swapped, then the database rename fails: both come back as they were."""
    from stocksense.backup import restore as restore_mod

    run_backup(str(tmp_path / "dest"), home)
    _wreck(home)
    live_db, live_reg = _db(home).read_bytes(), _tree(Path(home.registry_url))
    real_replace = restore_mod.os.replace

    def failing_replace(src, dst):
        if Path(dst) == _db(home) and ".restore-" in str(src):  # the staged copy moving in
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(restore_mod.os, "replace", failing_replace)
    with pytest.raises(BackupError, match="No space left"):
        run_restore(str(tmp_path / "dest"), home)
    monkeypatch.undo()
    assert _db(home).read_bytes() == live_db
    assert _tree(Path(home.registry_url)) == live_reg
    assert not [p for p in Path(home.home).iterdir() if "restore" in p.name]
