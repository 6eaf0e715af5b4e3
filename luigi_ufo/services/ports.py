"""Small network helpers shared by the CLI's embedded services and the test fixtures."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_port", "free_ports"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct TCP ports on ``host`` that no socket was bound to at the call.

    The sockets stay bound until all ports are chosen, so the ports differ from each other even
    when the services that will use them have not bound them yet (a JVM takes seconds to start;
    a port asked for meanwhile could otherwise be one of theirs).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(family)) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))  # the kernel picks the port
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that no socket was bound to at the time of the call."""
    return free_ports(1, host)[0]
