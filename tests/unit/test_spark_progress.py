"""Parsing of spark-submit output: progress bars (CR-separated), ids and URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luigi_ufo.spark.progress import (
    LineSplitter,
    StageProgress,
    describe,
    is_progress_bar,
    parse_ids,
    parse_progress,
    percent,
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
