"""What both run modes share (luigi_ufo.spark.run): interruption, failure text, the result."""

from __future__ import annotations

import os
import signal
import time

import pytest

from luigi_ufo.spark.run import (
    Interrupted,
    RunResult,
    failure_message,
    interruptible,
    traceback_lines,
)


def test_sigterm_and_ctrl_c_become_one_interruption_and_the_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as term, interruptible():  # noqa: PT012 - signal, then wait
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises at once
    assert term.value.reason == "terminated by SIGTERM"
    with pytest.raises(Interrupted) as ctrl_c, interruptible():
        raise KeyboardInterrupt
    assert ctrl_c.value.reason == "interrupted (SIGINT)"
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_failure_shows_facts_actions_traceback_and_other_lines_masked_and_clipped() -> None:
    traceback = ["Traceback (most recent call last):", "ValueError: bad row"]
    tail = [*traceback, "token is hush-hush", "x" * 500]
    message = failure_message(
        "Spark application failed: spark-submit exited with code 3",
        ["app id: unknown"],
        ["stopped it"],
        traceback,
        tail,
        secrets=["hush-hush"],
    )
    assert message.splitlines() == [
        "Spark application failed: spark-submit exited with code 3",
        "  app id: unknown",
        "  action: stopped it",
        "  Python traceback of the script:",
        "    Traceback (most recent call last):",
        "    ValueError: bad row",
        "  last 2 other lines of output:",
        "    token is ***",
        "    " + "x" * 400 + "... (100 more chars)",
        "  fix: read the traceback/output above, correct the script or its settings, and rerun",
    ]


def test_the_traceback_leaves_out_the_callers_frames_and_jvm_lines() -> None:
    jvm = "\tat org.apache.spark.Some.frame(Some.scala:1)"

    def script() -> None:
        raise RuntimeError("boom\n" + jvm)

    try:
        script()
    except RuntimeError as exc:
        error = exc
    shown = traceback_lines(error)
    assert shown[0] == "Traceback (most recent call last):"
    assert any(line.endswith(", in script") for line in shown)
    assert shown[-1] == "RuntimeError: boom"
    assert not any("org.apache.spark" in line for line in shown)
    assert traceback_lines(error, hide=[__file__]) == ["RuntimeError: boom"]


@pytest.mark.parametrize(
    ("mode", "app_id", "done"),
    [
        ("submit", "app-20261125083142-0007", "application app-20261125083142-0007 in 42 s"),
        ("submit", None, "spark-submit exited 0 in 42 s"),
        ("connect", None, "main() returned 0 in 42 s"),
    ],
)
def test_the_result_says_how_each_mode_ended(mode: str, app_id: str | None, done: str) -> None:
    result = RunResult(returncode=0, command="...", duration_s=42.3, app_id=app_id, mode=mode)
    assert result.done == done
