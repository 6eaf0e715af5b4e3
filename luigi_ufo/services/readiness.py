"""Wait for a service to be ready: poll a check while its process lives, with its log on failure."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

from luigi_ufo.errors import ServiceError

__all__ = ["PROGRESS_LIMIT", "http_get", "wait_until"]

#: A start that keeps making progress is waited for up to this many times its timeout.
PROGRESS_LIMIT = 5


def http_get(url: str, timeout: float = 2.0) -> bytes:
    """GET ``url`` and return the body (raises OSError on any failure)."""
    if not url.startswith(("http://", "https://")):
        raise ServiceError(f"refusing to fetch non-HTTP URL {url!r}; pass an http:// URL")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - checked above
        body: bytes = response.read()
        return body


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    log_tail: Callable[[], str] = lambda: "",
    progress: Callable[[], object] | None = None,
) -> float:
    """Poll ``ready`` until true; return the seconds waited or raise ServiceError with the log.

    With ``progress`` (e.g. the log's length), ``timeout`` bounds the time since its value last
    changed: a start that keeps making progress on a loaded machine is waited for, up to
    ``PROGRESS_LIMIT`` times ``timeout``; a stuck one fails after ``timeout``.
    """
    start = last_change = last_poll = time.monotonic()
    seen = progress() if progress is not None else None
    while True:
        try:
            if ready():
                return time.monotonic() - start
        except (OSError, ValueError, urllib.error.URLError):
            pass  # not up yet: connection refused, partial JSON
        if not alive():
            raise ServiceError(
                f"{what} exited before it was ready; log tail:\n{log_tail()}\n"
                "fix the cause shown in the log above"
            )
        now = time.monotonic()
        if progress is not None and now - last_poll >= min(1.0, timeout / 4):
            last_poll = now
            current = progress()
            if current != seen:
                seen, last_change = current, now
        stalled = now - last_change > timeout
        if stalled or now - start > PROGRESS_LIMIT * timeout:
            since = "without progress " if progress is not None and stalled else ""
            raise ServiceError(
                f"{what} was not ready after {now - start:.0f} s ({since}limit {timeout!r} s); "
                f"log tail:\n{log_tail()}\n"
                "check the log above or raise the timeout on a slow machine"
            )
        time.sleep(0.1)
