"""One-line JSON logs on stderr (journald collects them).  Never log secrets or request bodies."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            etype, evalue, tb = record.exc_info
            out["exc_type"] = etype.__name__ if etype else None
            out["exc"] = "".join(traceback.format_exception(etype, evalue, tb))[-4000:]
        return json.dumps(out, default=str, separators=(",", ":"))


_configured = False


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger to stderr as JSON lines (idempotent)."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # waitress logs "Serving on ..." and queue warnings; keep them, as JSON.
    logging.getLogger("waitress").setLevel("INFO")
    _configured = True


_native_captured = False


def capture_native_stderr() -> None:
    """Turn plain lines that native libraries write straight to file descriptor 2 (LiteRT prints
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") into JSON records of the logger
    ``stocksense.native``, so that every line the service writes is one JSON object.

    Python keeps writing to the original stderr through a duplicate of it; a daemon thread reads
    descriptor 2 through a pipe.  Call after configure_logging() (idempotent)."""
    import os
    import threading

    global _native_captured
    if _native_captured:
        return
    sys.stderr.flush()
    original = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(original)
    sys.stderr = original
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    native = logging.getLogger("stocksense.native")

    def pump() -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as pipe:
            for line in pipe:
                if line.strip():
                    native.info(line.rstrip("\n"))

    threading.Thread(target=pump, name="native-stderr", daemon=True).start()
    _native_captured = True
