"""What can go wrong with a registry, as the CLI and serving report it."""


class RegistryError(RuntimeError):
    """A registry problem with a one-line message fit for an operator (no stack trace)."""


class CorruptArtifact(RegistryError):
    """A stored object is missing, unreadable, or not the bytes its manifest or meta names."""


class RegistryUnavailable(RegistryError):
    """The store cannot be reached or used: bad URL, missing bucket, no credentials, no boto3."""
