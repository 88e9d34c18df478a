"""Versioned model artifacts with a `latest` pointer: a local folder, or S3 read through a cache."""

from stocksense.registry.errors import CorruptArtifact, RegistryError, RegistryUnavailable
from stocksense.registry.registry import ModelRegistry, open_registry

__all__ = ["CorruptArtifact", "ModelRegistry", "RegistryError", "RegistryUnavailable",
           "open_registry"]
