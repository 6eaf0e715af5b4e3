"""The Docker check against a stand-in engine on a unix socket (no Docker engine here)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from luigi_ufo.testing.backend import docker_reachable

pytestmark = pytest.mark.integration


def _serve(path: Path, answer: bytes) -> Iterator[str]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    requests: list[bytes] = []

    def loop() -> None:
        conn, _ = server.accept()
        with conn:
            requests.append(conn.recv(4096))
            conn.sendall(answer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"unix://{path}"
    thread.join(5)
    server.close()
    assert len(requests) == 1
    assert requests[0].startswith(b"GET /_ping HTTP/1.0\r\n")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path / "docker.sock", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path / "other.sock", b"HTTP/1.1 404 Not Found\r\n\r\nnope")


def test_engine_answering_ok_is_reachable(engine: str) -> None:
    assert docker_reachable(engine, timeout=2.0) is True


def test_socket_answering_something_else_is_not_docker(impostor: str) -> None:
    assert docker_reachable(impostor, timeout=2.0) is False
