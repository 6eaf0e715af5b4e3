"""What the Docker backends share: image settings, ports on 127.0.0.1, start-or-remove.

Tests reach a container only through a port it publishes on 127.0.0.1 (or host networking), never
through a container or gateway address, so nothing here asks testcontainers for a host address.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from luigi_ufo.errors import ServiceError
from luigi_ufo.testing.backend import IMAGE_ENV_VARS

__all__ = [
    "LOOPBACK",
    "image_for",
    "log_tail",
    "loopback_port",
    "publish_on_loopback",
    "remove",
    "running",
    "started",
]

LOOPBACK = "127.0.0.1"


def image_for(service: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    """Return the image of ``service``: its :data:`IMAGE_ENV_VARS` variable, else ``default``."""
    return environ.get(IMAGE_ENV_VARS[service], "").strip() or default


def publish_on_loopback(container: Any, port: int) -> None:
    """Publish ``port`` of ``container`` on a free port of 127.0.0.1 only (not every interface)."""
    # docker-py's create(ports=...) takes (host_ip, host_port); None lets the engine choose.
    container.ports[f"{port}/tcp"] = (LOOPBACK, None)


def loopback_port(container: Any, port: int) -> int:
    """Return the 127.0.0.1 port the engine published for ``port`` of a started container."""
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    bindings = (wrapped.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    for binding in bindings:
        if binding.get("HostIp") == LOOPBACK:
            return int(binding["HostPort"])
    raise ServiceError(
        f"container {wrapped.short_id} of {container.image!r} publishes no port {port} on "
        f"{LOOPBACK} (bindings: {bindings!r}); publish it with publish_on_loopback() before start"
    )


def started(container: Any) -> Any:
    """Start ``container``; if starting or its readiness wait fails, remove it and re-raise."""
    try:
        container.start()
    except BaseException:
        remove(container)
        raise
    return container


def remove(container: Any) -> None:
    """Remove ``container`` with its anonymous volumes (a no-op if it was never created)."""
    if getattr(container, "_container", None) is not None:
        container.stop()


def running(container: Any) -> bool:
    """Return whether the engine reports ``container`` as running (its main process lives)."""
    container.reload()
    return bool(container.status == "running")


def log_tail(container: Any, lines: int) -> str:
    """Return the last ``lines`` of the container's stdout and stderr."""
    out, err = container.get_logs()
    return "\n".join((out + err).decode("utf-8", "replace").splitlines()[-lines:])
