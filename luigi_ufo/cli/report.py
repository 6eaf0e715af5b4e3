"""The HTML report of a date: written by ``run`` and ``demo``, rebuilt by ``luigi-ufo report``.

``luigi-ufo run`` and ``demo`` keep the run's facts in the lake (:mod:`luigi_ufo.ufo.run_record`),
write the report to ``<data dir>/reports/ufo-<date>.html`` and print its path (``"report"`` in
``--json``); ``--open`` opens it in the default browser (``$BROWSER`` if set). ``luigi-ufo report
--date D`` rebuilds it from what the lake and PostgreSQL hold (the per-user PostgreSQL is started
for it when luigi.cfg configures none, as ``run`` does). Without matplotlib (the ``report``
extra) a run says how to get the report and still succeeds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import time
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luigi_ufo.cli.progress import say
from luigi_ufo.errors import ConfigError
from luigi_ufo.exit_status import EXIT_OK
from luigi_ufo.settings.sections import check_all_sections, config_overrides

if TYPE_CHECKING:
    from luigi_ufo.ufo.results import RunSummary


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--open`` to a command that writes the report."""
    parser.add_argument(
        "--open", action="store_true", help="open the HTML report in the default browser"
    )


def add_parser(sub: argparse._SubParsersAction[Any], date: Callable[[str], Any]) -> None:
    """Register ``report`` on the ``luigi-ufo`` parser (``date`` parses YYYY-MM-DD)."""
    report = sub.add_parser(
        "report", help="rebuild a date's HTML report from the lake and PostgreSQL"
    )
    report.add_argument("--date", type=date, default=None, help="YYYY-MM-DD (default: today)")
    report.add_argument(
        "--output", default=None, help="the HTML file (default <data dir>/reports/ufo-DATE.html)"
    )
    add_options(report)


def warm_up(*, connect: bool) -> None:
    """Start importing the drawing library while the pipeline runs (``render.warm_up``); in
    Connect mode once its first script process has forked (``render.warm_up_after_next_fork``).
    """
    from luigi_ufo.pictures import render

    if connect:
        render.warm_up_after_next_fork()
    else:
        render.warm_up()


def after_run(
    args: argparse.Namespace,
    source: str,
    date: datetime.date,
    doc: dict[str, Any],
    seconds: Mapping[str, float],
) -> None:
    """Record the run's facts and write its report; ``doc["report"]`` is the path (or None)."""
    from luigi_ufo.ufo.results import RunSummary
    from luigi_ufo.ufo.run_record import RunRecord, write_record
    from luigi_ufo.ufo.settings import UfoSettings

    record = RunRecord.of_run(source, UfoSettings.from_config(), seconds, args.command)
    write_record(date, record)
    summary = RunSummary(
        date=date,
        top=[(r["rank"], r["state"], r["sightings"]) for r in doc["top"]],
        counted=doc["counted"],
        rejected=doc["rejected"],
    )
    doc["report"] = None
    started = time.perf_counter()
    try:
        path = _write(date, None, summary)
    except ConfigError as exc:  # matplotlib missing: the run itself succeeded
        say(f"no HTML report: {exc}")
        return
    say(f"report {time.perf_counter() - started:.1f} s")
    doc["report"] = str(path)


def finish(args: argparse.Namespace, doc: Mapping[str, Any]) -> None:
    """Print the report's path after the table (``--json`` has it) and open it on ``--open``."""
    path = doc.get("report")
    if path is None:
        return
    if not args.json:
        print(f"report: {path}")
    if args.open:
        webbrowser.open(Path(path).as_uri())


def main(args: argparse.Namespace) -> int:
    """Rebuild the report of ``--date`` and print its path."""
    from luigi_ufo.ufo.database import embedded_postgres, postgres_configured

    date = args.date or datetime.datetime.now(datetime.timezone.utc).date()
    check_all_sections()
    with config_overrides() as set_option, contextlib.ExitStack() as stack:
        if not postgres_configured():
            stack.enter_context(embedded_postgres(set_option, say))
        path = _write(date, args.output, None)
    print(path)
    if args.open:
        webbrowser.open(path.as_uri())
    return EXIT_OK


def _write(date: datetime.date, output: str | None, summary: RunSummary | None) -> Path:
    from luigi_ufo.pictures.render import require_matplotlib
    from luigi_ufo.ufo.report import write_report

    require_matplotlib()
    return write_report(date, output, summary)
