"""Parsing of spark-submit output: progress bars (CR-separated), ids and URLs."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luigi_ufo.spark.progress import (
    LineSplitter,
    StageBoard,
    StageProgress,
    describe,
    is_progress_bar,
    parse_ids,
    parse_progress,
    percent,
    spark_line_level,
)

# Verbatim from pyspark 4.3.0 spark-submit stderr (local[2], 8 tasks).
REAL = (
    "\r[Stage 0:==============>                                            (2 + 2) / 8]\r"
    "26/11/25 08:31:46 INFO PythonRunner: Times: total = 1006 - task 2.0 in stage 0 (TID 2)\n"
)


def render(stages: list[StageProgress], width: int) -> str:
    """Draw stages as Spark's ConsoleProgressBar.show does (independent oracle for parsing)."""
    each = width // len(stages)
    out = []
    for s in stages:
        header = f"[Stage {s.stage}:" if not s.attempt else f"[Stage {s.stage}.{s.attempt}:"
        tailer = f"({s.done} + {s.running}) / {s.total}]"
        w = each - len(header) - len(tailer)
        bar = ""
        if w > 0:
            filled = w * s.done // s.total
            bar = "".join("=" if i < filled else ">" if i == filled else " " for i in range(w))
        out.append(header + bar + tailer)
    return "".join(out)


def records(stream: str, chunks: list[int] | None = None) -> list[str]:
    splitter = LineSplitter()
    out: list[str] = []
    pos = 0
    for size in chunks or []:
        out += splitter.feed(stream[pos : pos + size])
        pos += size
    out += splitter.feed(stream[pos:])
    return out + splitter.flush()


def test_real_spark_output() -> None:
    recs = records(REAL)
    assert recs[0] == ""
    assert parse_progress(recs[1]) == [StageProgress(stage=0, done=2, running=2, total=8)]
    assert is_progress_bar(recs[1])
    assert recs[2].startswith("26/11/25 08:31:46 INFO PythonRunner")
    assert not is_progress_bar(recs[2])
    assert parse_progress(recs[2]) == []


def test_splitter_handles_crlf_split_across_reads() -> None:
    splitter = LineSplitter()
    assert splitter.feed("one\r") == ["one"]
    assert splitter.feed("\ntwo\rthree\r\nfour") == ["two", "three"]
    assert splitter.flush() == ["four"]
    assert splitter.flush() == []


def test_two_stages_on_one_line() -> None:
    line = "[Stage 3:=====>     (12 + 2) / 40][Stage 4:>        (0 + 0) / 8]"
    assert parse_progress(line) == [
        StageProgress(stage=3, done=12, running=2, total=40),
        StageProgress(stage=4, done=0, running=0, total=8),
    ]
    assert percent(parse_progress(line)) == 25
    assert describe(parse_progress(line)) == (
        "Stage 3: 12/40 tasks done, 2 running; Stage 4: 0/8 tasks done, 0 running"
    )


def test_bar_without_room_for_drawing() -> None:
    assert parse_progress("[Stage 12:(5 + 1) / 1000]") == [
        StageProgress(stage=12, done=5, running=1, total=1000)
    ]


def test_erase_line_is_progress_noise() -> None:
    assert is_progress_bar(" " * 80)
    assert is_progress_bar("")


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        ([], 0),
        ([StageProgress(0, 0, 0, 0)], 0),
        ([StageProgress(0, 1, 0, 3)], 33),
        ([StageProgress(0, 3, 0, 3)], 100),
        ([StageProgress(0, 9, 0, 3)], 100),
    ],
)
def test_percent(stages: list[StageProgress], expected: int) -> None:
    assert percent(stages) == expected


stage_st = st.builds(
    StageProgress,
    stage=st.integers(0, 100_000),
    attempt=st.integers(0, 3),
    total=st.integers(1, 100_000),
    done=st.integers(0, 100_000),
    running=st.integers(0, 64),
).filter(lambda s: s.done <= s.total)


@given(
    stages=st.lists(stage_st, min_size=1, max_size=4),
    width=st.integers(1, 400),
    log=st.text(alphabet=st.characters(blacklist_characters="\r\n["), max_size=60),
    cuts=st.lists(st.integers(1, 50), max_size=10),
)
def test_progress_survives_any_width_and_chunking(
    stages: list[StageProgress], width: int, log: str, cuts: list[int]
) -> None:
    bar = render(stages, width)
    stream = f"{log}\n\r{bar}\r{' ' * width}\r{log}\n"
    parsed = [p for r in records(stream, cuts) for p in parse_progress(r)]
    assert parsed == stages
    assert 0 <= percent(parsed) <= 100


@given(
    text=st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=40),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(1, 5), max_size=10),
)
def test_splitter_roundtrip(text: str, end: str, cuts: list[int]) -> None:
    parts = text.split(" ")
    assert records("".join(p + end for p in parts), cuts) == parts


@pytest.mark.parametrize(
    ("line", "app_id", "driver_id", "url"),
    [
        (
            "26/11/25 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID "
            "app-20261125083142-0003",
            "app-20261125083142-0003",
            None,
            None,
        ),
        (
            "INFO Client: Submitted application application_1700000000000_0042",
            "application_1700000000000_0042",
            None,
            None,
        ),
        (
            "\t tracking URL: http://rm:8088/proxy/application_1700000000000_0042/",
            "application_1700000000000_0042",
            None,
            "http://rm:8088/proxy/application_1700000000000_0042/",
        ),
        (
            "INFO ClientEndpoint: Driver successfully submitted as driver-20261125083142-0000",
            None,
            "driver-20261125083142-0000",
            None,
        ),
        (
            "INFO RestSubmissionClient: Submission successfully created as "
            "driver-20261125083142-0001. Polling submission state...",
            None,
            "driver-20261125083142-0001",
            None,
        ),
        (
            "Deployed Spark application pi with application ID "
            "spark-0123456789abcdef0123456789abcdef and submission ID spark:pi-driver into "
            "Kubernetes",
            "spark-0123456789abcdef0123456789abcdef",
            "spark:pi-driver",
            None,
        ),
        (
            "INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at http://10.0.0.5:4040",
            None,
            None,
            "http://10.0.0.5:4040",
        ),
        ("INFO SparkContext: Running Spark version 4.3.0", None, None, None),
    ],
)
def test_parse_ids(line: str, app_id: str | None, driver_id: str | None, url: str | None) -> None:
    ids = parse_ids(line)
    assert (ids.app_id, ids.driver_id, ids.tracking_url) == (app_id, driver_id, url)


# Verbatim from pyspark 4.x spark-submit stderr (local[2]): one 8-task stage, then a 4-task one.
JOB = """\
26/12/07 00:56:27 INFO DAGScheduler: Got job 0 (sum at /tmp/job.py:6) with 8 output partitions
26/12/07 00:56:27 INFO DAGScheduler: Submitting 8 missing tasks from ResultStage 0 (PythonRDD[1] \
at sum at /tmp/job.py:6) (first 15 tasks are for partitions Vector(0, 1, 2, 3, 4, 5, 6, 7))
26/12/07 00:56:27 INFO TaskSetManager: Starting task 0.0 in stage 0.0 (TID 0) (192.0.2.2,executor \
driver, partition 0, PROCESS_LOCAL, 9675 bytes) \n\
26/12/07 00:56:27 INFO TaskSetManager: Starting task 1.0 in stage 0.0 (TID 1) (192.0.2.2,executor \
driver, partition 1, PROCESS_LOCAL, 9675 bytes) \n\
\r[Stage 0:>                                                          (0 + 2) / 8]\r\
26/12/07 00:56:30 INFO Executor: Finished task 0.0 in stage 0.0 (TID 0). 1620 bytes result sent \
to driver
26/12/07 00:56:30 INFO TaskSetManager: Finished task 0.0 in stage 0.0 (TID 0) in 3024 ms on \
192.0.2.2 (executor driver) (1/8)
26/12/07 00:56:30 INFO TaskSetManager: Finished task 1.0 in stage 0.0 (TID 1) in 2953 ms on \
192.0.2.2 (executor driver) (2/8)
\r[Stage 0:==============>                                            (2 + 2) / 8]\r\
\r[Stage 0:=============================>                             (4 + 2) / 8]\r\
26/12/07 00:56:34 INFO TaskSetManager: Finished task 6.0 in stage 0.0 (TID 6) in 1397 ms on \
192.0.2.2 (executor driver) (8/8)
26/12/07 00:56:34 INFO DAGScheduler: ResultStage 0 (sum at /tmp/job.py:6) finished in 7435 ms
26/12/07 00:56:34 INFO DAGScheduler: Job 0 finished: sum at /tmp/job.py:6, took 7575.220763 ms
sum 19900
26/12/07 00:56:38 INFO DAGScheduler: Submitting 4 missing tasks from ShuffleMapStage 1 \
(MapPartitionsRDD[5] at $anonfun$withThreadLocalCaptured$1 at CompletableFuture.java:1768) \
(first 15 tasks are for partitions Vector(0, 1, 2, 3))
"""


def board_after(stream: str) -> list[tuple[int, str]]:
    """Feed ``stream`` to a StageBoard; return (percent, status) at every change."""
    board = StageBoard()
    return [(board.percent(), board.describe()) for r in records(stream) if board.feed(r)]


def test_stages_move_with_the_bar_and_the_schedulers_lines_and_end_complete() -> None:
    assert board_after(JOB) == [
        (0, "Stage 0: 0/8 tasks done, 0 running"),
        (0, "Stage 0: 0/8 tasks done, 1 running"),
        (0, "Stage 0: 0/8 tasks done, 2 running"),
        (12, "Stage 0: 1/8 tasks done, 1 running"),
        (25, "Stage 0: 2/8 tasks done, 0 running"),
        (25, "Stage 0: 2/8 tasks done, 2 running"),
        (50, "Stage 0: 4/8 tasks done, 2 running"),
        (100, "Stage 0: 8/8 tasks done, 1 running"),
        (100, "Stage 0: 8/8 tasks done, 0 running"),
        # The next stage starts a new set, from 0.
        (0, "Stage 1: 0/4 tasks done, 0 running"),
    ]


def test_a_stage_too_short_for_the_bar_still_counts() -> None:
    # Spark draws no bar for a stage that ends within 500 ms: only its INFO lines tell.
    short = "\n".join(line for line in JOB.splitlines() if "[Stage" not in line)
    changes = board_after(short)
    assert (100, "Stage 0: 8/8 tasks done, 0 running") in changes
    assert [p for p, _ in changes] == [*sorted(p for p, _ in changes[:-1]), 0]


def test_the_bar_alone_ends_a_stage_when_spark_erases_it() -> None:
    # With Spark's log level above INFO, only the bar is there; its erasure ends the job.
    stream = "\r[Stage 3:>   (0 + 1) / 1]\r\r[Stage 3:>   (0 + 1) / 1]\r\r" + " " * 80 + "\r"
    assert board_after(stream) == [
        (0, "Stage 3: 0/1 tasks done, 1 running"),
        (100, "Stage 3: 1/1 tasks done, 0 running"),
    ]


def test_a_late_line_of_an_ended_stage_changes_nothing() -> None:
    board = StageBoard()
    for record in records(JOB.split("sum 19900")[0]):
        board.feed(record)
    late = (
        "26/12/07 00:56:34 INFO TaskSetManager: Finished task 7.0 in stage 0.0 (TID 7) in 9 ms "
        "on 192.0.2.2 (executor driver) (7/8)"
    )
    assert not board.feed(late)
    assert board.percent() == 100


@pytest.mark.parametrize(
    ("line", "previous", "level"),
    [
        ("26/12/07 00:56:27 INFO DAGScheduler: Got job 0", None, logging.INFO),
        ("26/12/07 00:56:15 WARN Utils: Your hostname, vm, resolves to a loopback", None, 30),
        ("26/12/07 00:56:15 ERROR Executor: Exception in task 0.0", None, logging.ERROR),
        ("26/12/07 00:56:15 DEBUG BlockManager: x", None, logging.DEBUG),
        (
            "Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties",
            None,
            20,
        ),
        ("WARNING: Using incubator modules: jdk.incubator.vector", None, logging.INFO),
        # A Java exception under a log line has the log line's level...
        ("org.apache.spark.SparkException: Job aborted", logging.ERROR, logging.ERROR),
        (
            "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(x.scala:1)",
            40,
            40,
        ),
        ("Caused by: java.io.IOException: No space left on device", logging.ERROR, logging.ERROR),
        ("\t... 12 more", logging.INFO, logging.INFO),
        # ...and everything else is the script's own output, whatever came before.
        ("sum 19900", logging.INFO, None),
        ("  indented output of the script", logging.INFO, None),
        ("Traceback (most recent call last):", logging.ERROR, None),
        ("\tat the beginning of the script's output", None, None),
    ],
)
def test_spark_line_level(line: str, previous: int | None, level: int | None) -> None:
    assert spark_line_level(line, previous) == level
