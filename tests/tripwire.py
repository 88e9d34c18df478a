"""A TCP listener on 127.0.0.1 that counts connections: an endpoint no AWS API call may reach.

Bad-input tests point botocore (AWS_ENDPOINT_URL or ec2_endpoint_url) at it and assert it saw
nothing; a control run with valid input shows it does catch a call. Used by tests/test_preflight.py
and the ec2 molecule scenario (molecule/ec2/tests/conftest.py puts tests/ on sys.path).
"""

from __future__ import annotations

import socket
import threading


class Tripwire:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the accept timeout (socket.timeout is an OSError) or a closed socket
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
