"""Errors the web layer maps to HTTP responses."""


class ServingError(RuntimeError):
    pass


class UnknownSymbol(ServingError):
    """The symbol has no stored prices."""


class ModelUnavailable(ServingError):
    """No usable published model (none trained, corrupt artifact, or too little history)."""
