"""Progress of ``luigi-ufo run``: plain lines, the live display and the scheduler hook."""

from __future__ import annotations

import io
from typing import Any

import luigi
from rich.console import Console

from luigi_ufo.cli.progress import (
    LiveDisplay,
    PlainLines,
    Quiet,
    ReportingFactory,
    open_display,
    reporting,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def started(self, key: str, label: str) -> None:
        self.calls.append(("started", key, label))

    def percent(self, key: str, value: int) -> None:
        self.calls.append(("percent", key, str(value)))

    def status(self, key: str, message: str) -> None:
        self.calls.append(("status", key, message))

    def finished(self, key: str, ok: bool) -> None:
        self.calls.append(("finished", key, str(ok)))

    def close(self) -> None:
        self.calls.append(("close",))


def test_plain_lines_print_start_tenths_status_and_end() -> None:
    out, clock = io.StringIO(), Clock()
    lines = PlainLines(out, clock=clock, every_s=5.0)
    lines.started("t1", "AggregateUFOsByState(date=2024-01-15)")
    clock.now += 2
    lines.status("t1", "Stage 0: 1/8 tasks done, 2 running")  # within 5 s of the last line
    lines.percent("t1", 12)
    lines.percent("t1", 15)  # same tenth: nothing
    clock.now += 6
    lines.status("t1", "Stage 1: 0/4 tasks done, 4 running")
    lines.percent("t1", 100)  # the end line says it
    clock.now += 1.5
    lines.finished("t1", True)
    lines.started("t2", "TopTenStates(date=2024-01-15)")
    lines.finished("t2", False)
    assert out.getvalue().splitlines() == [
        "luigi-ufo: [   0.0 s] AggregateUFOsByState(date=2024-01-15) ...",
        "luigi-ufo: [   2.0 s] AggregateUFOsByState(date=2024-01-15) 12% "
        "(Stage 0: 1/8 tasks done, 2 running)",
        "luigi-ufo: [   8.0 s] AggregateUFOsByState(date=2024-01-15) 15% "
        "(Stage 1: 0/4 tasks done, 4 running)",
        "luigi-ufo: [   9.5 s] AggregateUFOsByState(date=2024-01-15) done in 9.5 s",
        "luigi-ufo: [   9.5 s] TopTenStates(date=2024-01-15) ...",
        "luigi-ufo: [   9.5 s] TopTenStates(date=2024-01-15) FAILED in 0.0 s",
    ]


def test_plain_lines_count_tenths_again_when_the_next_stage_starts_from_0() -> None:
    out, clock = io.StringIO(), Clock()
    lines = PlainLines(out, clock=clock, every_s=5.0)
    lines.started("t1", "TopTenStates(date=2024-01-15)")
    for value in (30, 100, 0, 20, 50, 100):  # stage 0 ends at 100%, stage 1 starts at 0%
        clock.now += 1
        lines.percent("t1", value)
    shown = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert shown == [
        "TopTenStates(date=2024-01-15) ...",
        "TopTenStates(date=2024-01-15) 30%",
        "TopTenStates(date=2024-01-15) 20%",
        "TopTenStates(date=2024-01-15) 50%",
    ]


def test_live_display_draws_task_bar_percent_and_stage_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    display = LiveDisplay(console)
    display.started("t1", "AggregateUFOsByState(date=2024-01-15)")
    display.percent("t1", 40)
    display.status("t1", "Stage 2: 4/10 tasks done")
    display.close()
    text = out.getvalue()
    assert "AggregateUFOsByState(date=2024-01-15)" in text
    assert " 40%" in text
    assert "Stage 2: 4/10 tasks done" in text
    assert "\x1b[" in text  # a live display redraws with cursor movements


def test_open_display_chooses_by_terminal_and_quiet() -> None:
    assert isinstance(open_display(quiet=True, stream=io.StringIO()), Quiet)
    assert isinstance(open_display(quiet=False, stream=io.StringIO()), PlainLines)


class Work(luigi.Task):
    """Reports progress the way ExternalSparkScriptTask's runner does."""

    done = False

    def run(self) -> None:
        self.set_progress_percentage(50)
        self.set_status_message("Stage 0: 1/2 tasks done, 1 running")
        Work.done = True

    def complete(self) -> bool:
        return Work.done


def test_luigi_events_and_scheduler_calls_reach_the_sink() -> None:
    sink = Recorder()
    made: list[Any] = []

    class Keeping(ReportingFactory):
        def create_local_scheduler(self) -> Any:
            made.append(super().create_local_scheduler())
            return made[-1]

    Work.done = False
    with reporting(sink):
        ok = luigi.build(  # type: ignore[no-untyped-call]
            [Work()],
            worker_scheduler_factory=Keeping(sink),
            local_scheduler=True,
            log_level="CRITICAL",
        )
    assert ok
    task_id = Work().task_id
    assert sink.calls == [
        ("started", task_id, "Work()"),
        ("percent", task_id, "50"),
        ("status", task_id, "Stage 0: 1/2 tasks done, 1 running"),
        ("finished", task_id, "True"),
    ]
    # The scheduler itself still got them, as luigid would for its status page.
    assert made[0].get_task_progress_percentage(task_id)["progressPercentage"] == 50
    assert made[0].get_task_status_message(task_id)["statusMessage"].startswith("Stage 0")


def test_verbose_shows_sparks_info_lines_too() -> None:
    from luigi_ufo.cli import main as cli
    from luigi_ufo.cli import pipeline

    options: list[tuple[str, str, str]] = []
    args = cli.build_parser().parse_args(["run", "--input", "x.csv", "--verbose"])
    pipeline._apply_overrides(args, lambda *option: options.append(option))
    assert ("spark_script", "spark_log_level", "INFO") in options
    args = cli.build_parser().parse_args(["run", "--input", "x.csv"])
    options.clear()
    pipeline._apply_overrides(args, lambda *option: options.append(option))
    assert not any(section == "spark_script" for section, _, _ in options)
