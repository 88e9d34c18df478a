"""Backups of a StockSense home (`stocksense backup` / `stocksense restore`).

A backup is content-addressed: every file (the database copy, each registry file) is stored once
under objects/sha256/<hex>, and a manifest lists what one backup is made of:

    DEST/objects/sha256/<hex>                  blobs, never rewritten once present
    DEST/backups/<YYYYMMDDTHHMMSSZ>/manifest.json
    DEST/backups/LATEST                        the newest complete backup's id, written last

DEST is a local directory or s3://bucket/prefix (boto3, the `backup` extra). This package sits
beside web and pipeline in the layers: web never imports it, so the serving process never loads
boto3.
"""

from __future__ import annotations

from .create import run_backup
from .errors import BackupError, NewerSchemaError
from .manifest import SCHEMA_VERSION
from .restore import run_restore

__all__ = ["BackupError", "NewerSchemaError", "SCHEMA_VERSION", "run_backup", "run_restore"]
