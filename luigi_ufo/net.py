"""Small network helpers shared by the CLI's embedded services and the test fixtures."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that no socket was bound to at the time of the call.

    The kernel picks the port (bind to port 0), so concurrent callers get different ports.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
