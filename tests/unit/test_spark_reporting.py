"""Reports to the Luigi scheduler: never raised, never blocking, throttled with a trailing edge."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from luigi_ufo.spark.reporting import Reporter, report_safely


def test_the_newest_value_arrives_and_frames_in_between_are_coalesced() -> None:
    got: list[int] = []
    reporter = Reporter({"percent": got.append}, min_interval_s=0.2)
    reporter.send("percent", 1)
    assert wait_for(lambda: got == [1])  # the first value goes at once
    for value in range(2, 51):
        reporter.send("percent", value)
    # No further send: the last value must still arrive, once its interval has passed.
    assert wait_for(lambda: got[-1] == 50)
    reporter.close(timeout_s=5)
    assert len(got) < 10
    assert got == sorted(got)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_a_value_equal_to_the_last_one_sent_is_not_sent_again() -> None:
    got: list[str] = []
    reporter = Reporter({"status": got.append}, min_interval_s=0.0)
    reporter.send("status", "Stage 0: 1/2 tasks done")
    reporter.close(timeout_s=5)
    reporter = Reporter({"status": got.append}, min_interval_s=0.0)
    for message in ["a", "a", "b", "b", "a"]:
        reporter.send("status", message)
        time.sleep(0.05)
    reporter.close(timeout_s=5)
    assert got == ["Stage 0: 1/2 tasks done", "a", "b", "a"]


def test_close_delivers_what_is_pending_at_once() -> None:
    got: list[int] = []
    reporter = Reporter({"percent": got.append}, min_interval_s=60.0)
    reporter.send("percent", 10)
    reporter.send("percent", 20)
    reporter.send("percent", 100)
    reporter.close(timeout_s=5)
    assert got[-1] == 100


def test_a_failing_scheduler_is_logged_once_per_kind_and_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def gone(value: object) -> None:
        calls.append(str(value))
        raise ConnectionError("luigid refused the connection")

    reporter = Reporter({"percent": gone, "status": gone}, min_interval_s=0.0)
    with caplog.at_level(logging.DEBUG, logger="luigi_ufo.spark"):
        for value in range(3):
            reporter.send("percent", value)
            reporter.send("status", f"stage {value}")
            time.sleep(0.05)
        reporter.close(timeout_s=5)
    assert len(calls) >= 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(warnings) == [
        "could not report the progress to the Luigi scheduler (ConnectionError: luigid "
        "refused the connection); the run goes on without it",
        "could not report the status message to the Luigi scheduler (ConnectionError: "
        "luigid refused the connection); the run goes on without it",
    ]


def test_a_hanging_scheduler_blocks_neither_send_nor_close() -> None:
    release = threading.Event()
    reporter = Reporter({"status": lambda message: release.wait(60)}, min_interval_s=0.0)
    started = time.monotonic()
    reporter.send("status", "first")  # its delivery hangs, like an RPC retrying for minutes
    for i in range(100):
        reporter.send("status", f"later {i}")
    reporter.close(timeout_s=0.5)
    assert time.monotonic() - started < 5
    release.set()


def test_report_safely_returns_whether_it_worked(caplog: pytest.LogCaptureFixture) -> None:
    def gone(value: object) -> None:
        raise OSError("no route to host")

    assert report_safely(None, "status", "x")
    assert report_safely(lambda v: None, "status", "x")
    with caplog.at_level(logging.WARNING, logger="luigi_ufo.spark"):
        assert not report_safely(gone, "tracking_url", "http://h:4040")
    assert "could not report the tracking URL to the Luigi scheduler (OSError" in caplog.text


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown report kinds"):
        Reporter({"progress": print})
