"""Versioned model artifacts with a `latest` pointer (local folder; S3 later)."""

from stocksense.registry.registry import CorruptArtifact, ModelRegistry, open_registry

__all__ = ["CorruptArtifact", "ModelRegistry", "open_registry"]
