"""Errors the backup commands turn into one JSON line and an exit code."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is safe to print (no secrets)."""

    exit_code = 1


class NewerSchemaError(BackupError):
    """The manifest was written by a newer StockSense than this one understands."""

    exit_code = 2
