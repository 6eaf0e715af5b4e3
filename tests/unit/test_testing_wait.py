"""wait_until: a stuck start fails after its timeout; one that keeps progressing is waited for."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.readiness import wait_until


def ready_after(seconds: float) -> Callable[[], bool]:
    start = time.monotonic()
    return lambda: time.monotonic() - start >= seconds


def test_a_start_that_keeps_progressing_is_waited_for_past_the_timeout() -> None:
    counter = itertools.count()
    waited = wait_until(ready_after(0.8), what="svc", timeout=0.3, progress=lambda: next(counter))
    assert waited >= 0.8


def test_a_stalled_start_fails_after_the_timeout_naming_the_stall() -> None:
    with pytest.raises(ServiceError, match="without progress") as info:
        wait_until(ready_after(5), what="svc", timeout=0.3, progress=lambda: 1)
    assert "svc was not ready after" in str(info.value)


def test_without_progress_the_timeout_is_wall_clock() -> None:
    with pytest.raises(ServiceError, match=r"limit 0\.3 s"):
        wait_until(ready_after(5), what="svc", timeout=0.3, log_tail=lambda: "tail")


def test_progress_cannot_extend_the_wait_forever() -> None:
    counter = itertools.count()
    start = time.monotonic()
    with pytest.raises(ServiceError):
        wait_until(lambda: False, what="svc", timeout=0.2, progress=lambda: next(counter))
    assert time.monotonic() - start < 0.2 * 5 + 1
