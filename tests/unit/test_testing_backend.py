from __future__ import annotations

import pytest

from luigi_ufo.errors import ConfigError
from luigi_ufo.testing.backend import (
    Backend,
    choose_backend,
    docker_address,
    docker_reachable,
    ping_ok,
    select_backend,
)


@pytest.mark.parametrize(
    ("env_value", "forced", "docker_ok", "installed", "supported", "expected"),
    [
        ("host=db", None, True, True, True, Backend.ENV),
        ("host=db", "native", True, True, True, Backend.ENV),
        (None, None, True, True, True, Backend.DOCKER),
        (None, None, True, False, True, Backend.NATIVE),
        (None, None, False, True, True, Backend.NATIVE),
        (None, None, True, True, False, Backend.NATIVE),
        (None, "native", True, True, True, Backend.NATIVE),
        (None, " Docker ", False, False, True, Backend.DOCKER),
        (None, "docker", True, True, False, Backend.NATIVE),
        ("", None, False, True, True, Backend.NATIVE),
    ],
)
def test_choose_backend_follows_env_then_forced_then_docker_then_native(
    env_value: str | None,
    forced: str | None,
    docker_ok: bool,
    installed: bool,
    supported: bool,
    expected: Backend,
) -> None:
    assert (
        choose_backend(
            env_value=env_value,
            forced=forced,
            docker_ok=docker_ok,
            testcontainers_installed=installed,
            docker_supported=supported,
        )
        is expected
    )


@pytest.mark.parametrize(("forced", "supported"), [("env", True), ("podman", True), ("env", False)])
def test_choose_backend_rejects_an_impossible_forced_backend(forced: str, supported: bool) -> None:
    with pytest.raises(ConfigError, match="LUIGI_UFO_TEST_BACKEND"):
        choose_backend(
            env_value=None,
            forced=forced,
            docker_ok=True,
            testcontainers_installed=True,
            docker_supported=supported,
        )


def test_select_backend_prefers_the_service_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUIGI_UFO_TEST_POSTGRES_DSN", "host=db.example port=5432")
    monkeypatch.delenv("LUIGI_UFO_TEST_BACKEND", raising=False)
    assert select_backend("postgres") is Backend.ENV


def test_select_backend_forced_native_skips_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUIGI_UFO_TEST_SPARK_MASTER", raising=False)
    monkeypatch.setenv("LUIGI_UFO_TEST_BACKEND", "native")
    assert select_backend("spark") is Backend.NATIVE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("unix", "/var/run/docker.sock")),
        ("", ("unix", "/var/run/docker.sock")),
        ("unix:///run/user/1000/docker.sock", ("unix", "/run/user/1000/docker.sock")),
        ("tcp://10.0.0.5:2375", ("tcp", ("10.0.0.5", 2375))),
        ("tcp://[::1]:2376/", ("tcp", ("::1", 2376))),
    ],
)
def test_docker_address_parses_docker_host(value: str | None, expected: object) -> None:
    assert docker_address(value) == expected


@pytest.mark.parametrize("value", ["ssh://me@host", "tcp://nohostport", "npipe:////./pipe/x"])
def test_docker_address_rejects_unsupported_values(value: str) -> None:
    with pytest.raises(ConfigError, match="DOCKER_HOST"):
        docker_address(value)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nContent-Length: 2\r\n\r\nOK", True),
        (b"HTTP/1.0 200 OK\r\n\r\nOK\n", True),
        (b"HTTP/1.1 500 Internal Server Error\r\n\r\nOK", False),
        (b"HTTP/1.1 200 OK\r\n\r\n<html>nginx</html>", False),
        (b"", False),
        (b"garbage", False),
    ],
)
def test_ping_ok_accepts_only_the_engines_answer(response: bytes, expected: bool) -> None:
    assert ping_ok(response) is expected


def test_docker_reachable_is_false_without_an_engine(tmp_path: pytest.TempPathFactory) -> None:
    # A socket path that does not exist: decided without any network I/O.
    assert docker_reachable(f"unix://{tmp_path}/absent.sock", timeout=0.5) is False
    assert docker_reachable("ssh://me@host") is False


def test_testcontainers_api_used_by_the_docker_backends_exists() -> None:
    # No engine here to run them; this catches API drift in testcontainers at least.
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

    assert issubclass(PostgresContainer, DockerContainer)
    for method in ("with_env", "with_exposed_ports", "with_command", "with_kwargs", "waiting_for"):
        assert callable(getattr(DockerContainer, method))
    for method in ("get_container_host_ip", "get_exposed_port", "get_logs", "stop"):
        assert callable(getattr(DockerContainer, method))
    assert HttpWaitStrategy(5000, "/moto-api/") is not None
    assert LogMessageWaitStrategy("Successfully registered with master") is not None
