"""Single-admin authentication: Argon2id password hash, session login, login rate limiting."""

from __future__ import annotations

import functools
import hmac
import threading
import time
from collections import deque
from urllib.parse import unquote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, redirect, request, session, url_for

# OWASP's Argon2id recommendation (19 MiB, t=2, p=1): strong, and light on a 1 GB host.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# A fixed, valid hash verified when no admin is configured, so timing does not tell.
_DUMMY_HASH = None


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("empty password")
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if not stored_hash:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = HASHER.hash("not-a-password")
        try:
            HASHER.verify(_DUMMY_HASH, password + "x")
        except VerificationError:
            pass
        return False
    try:
        return HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_credentials(cfg, username: str, password: str) -> bool:
    user_ok = hmac.compare_digest(username.encode(), cfg.admin_user.encode())
    pw_ok = verify_password(cfg.admin_password_hash, password)
    return user_ok and pw_ok


class LoginRateLimiter:
    """Sliding window of failed attempts per client address and overall."""

    def __init__(
        self,
        max_attempts: int = 5,
        window: float = 300.0,
        global_factor: int = 10,
        clock=time.monotonic,
    ):
        self.max_attempts = max_attempts
        self.window = window
        self.global_max = max_attempts * global_factor
        self.clock = clock
        self._per_ip: dict[str, deque] = {}
        self._all: deque = deque()
        self._lock = threading.Lock()

    def _prune(self, q: deque, now: float) -> None:
        while q and now - q[0] >= self.window:
            q.popleft()

    def retry_after(self, ip: str) -> int:
        """Seconds the caller must wait, 0 when an attempt is allowed."""
        now = self.clock()
        with self._lock:
            q = self._per_ip.get(ip)
            waits = []
            if q is not None:
                self._prune(q, now)
                if len(q) >= self.max_attempts:
                    waits.append(self.window - (now - q[0]))
            self._prune(self._all, now)
            if len(self._all) >= self.global_max:
                waits.append(self.window - (now - self._all[0]))
            return int(max(waits) + 1) if waits else 0

    def failed(self, ip: str) -> None:
        now = self.clock()
        with self._lock:
            q = self._per_ip.setdefault(ip, deque())
            q.append(now)
            self._all.append(now)
            if len(self._per_ip) > 10000:  # bound memory
                for key in [
                    k for k, v in self._per_ip.items() if not v or now - v[-1] >= self.window
                ]:
                    del self._per_ip[key]

    def succeeded(self, ip: str) -> None:
        with self._lock:
            self._per_ip.pop(ip, None)


def is_admin() -> bool:
    return session.get("admin") is True


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not is_admin():
            return redirect(url_for("admin.login", next=request.path))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """Only same-site paths are allowed as a post-login destination (else the admin page).

    Browsers drop tabs and newlines and read a backslash as a slash, so a target is refused when
    it has any control character, backslash or non-ASCII character, a scheme or a host, or does not
    start with exactly one "/"."""
    fallback = url_for("admin.index")
    if not target or not target.isascii() or "\\" in target:
        return fallback
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return fallback
    if not target.startswith("/") or target.startswith("//"):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return fallback
    if parts.path.startswith("//") or unquote(parts.path).startswith(("//", "/\\")):
        return fallback
    return target


def limiter():
    return current_app.extensions["stocksense.login_limiter"]
