from __future__ import annotations

import socket

from luigi_ufo.services.ports import free_port, free_ports


def test_free_port_is_bindable_on_loopback() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_port_skips_a_port_in_use() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        assert all(free_port("127.0.0.1") != taken for _ in range(20))


def test_free_ports_are_distinct_and_bindable() -> None:
    for _ in range(50):
        ports = free_ports(4)
        assert len(set(ports)) == 4
    sockets = [socket.socket() for _ in ports]
    try:
        for sock, port in zip(sockets, ports, strict=True):
            sock.bind(("127.0.0.1", port))
    finally:
        for sock in sockets:
            sock.close()
