"""``luigi-ufo run`` and ``demo``: the reference pipeline for one date, and its summary table.

``run --input EXPORT`` imports a NUFORC export for a date and builds ``TopStatesToDatabase`` for
it: a local lake directory, Spark ``local[*]``, the per-user PostgreSQL and Luigi's local
scheduler, unless luigi.cfg configures ``[lake]``, ``[ufo]``, ``[spark_script]``,
``[postgres_topn]`` or a central scheduler. ``demo`` does the same on a generated NUFORC-shaped
sample. Both print the top-N table and the row accounting (``--json``: one JSON object), and
write the date's HTML report (:mod:`luigi_ufo.cli.report`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import luigi

from luigi_ufo.cli import report
from luigi_ufo.cli.progress import ProgressSink, Quiet, open_display, reporting, say
from luigi_ufo.errors import ConfigError, InputFormatError, PipelineFailedError
from luigi_ufo.exit_status import EXIT_OK, EXIT_USAGE
from luigi_ufo.paths import data_dir
from luigi_ufo.pause_points import pause_point
from luigi_ufo.scripts import nuforc as rules
from luigi_ufo.services.spark_home import find_java
from luigi_ufo.settings.sections import check_all_sections, config_overrides, configured
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.ufo.database import embedded_postgres, postgres_configured, require_per_user_server
from luigi_ufo.ufo.inputs import check_export, refusal
from luigi_ufo.ufo.settings import UfoSettings

# Luigi's parser also finds the dashed spellings (default-scheduler-url) under these names.
SCHEDULER_KEYS = ("default_scheduler_url", "scheduler_url", "default_scheduler_host")

_TIMINGS: dict[str, float] = {}
_FAILURES: list[str] = []


def _record_time(task: luigi.Task, seconds: float) -> None:
    _TIMINGS[type(task).__name__] = seconds


def _record_failure(task: luigi.Task, exception: BaseException) -> None:
    _FAILURES.append(f"{task} failed: {exception}")


luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)(_record_time)  # type: ignore[no-untyped-call]
luigi.Task.event_handler(luigi.Event.FAILURE)(_record_failure)  # type: ignore[no-untyped-call]


# -- arguments ----------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> datetime.date:
    """Return the date ``text`` names in the one accepted form, YYYY-MM-DD."""
    if _ISO_DATE.fullmatch(text):
        try:
            return datetime.date.fromisoformat(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"date {text!r} is not a calendar date ({exc}); write it as YYYY-MM-DD"
            ) from None
    compact = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})", text)
    fix = f"write it as {'-'.join(compact.groups())}" if compact else "e.g. 2024-01-15"
    raise argparse.ArgumentTypeError(f"date {text!r} is not YYYY-MM-DD; {fix}")


def _encoding(text: str) -> str:
    try:
        rules.check_encoding(text)  # the packaged script's own check, so both agree
    except rules.InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``run`` and ``demo`` on the ``luigi-ufo`` parser."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--date",
            type=parse_date,
            default=None,
            help="partition date YYYY-MM-DD (default: today)",
        )
        p.add_argument("--top", type=int, default=None, help="N of the top-N table (default 10)")
        p.add_argument(
            "--ties",
            choices=["cut", "include"],
            default=None,
            help="cut (default): exactly N rows, states tied at the cut listed as left out; "
            "include: every state tied at the N-th count, with equal ranks",
        )
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        shown = p.add_mutually_exclusive_group()
        shown.add_argument("--verbose", action="store_true", help="show Luigi's and Spark's logs")
        shown.add_argument("--quiet", action="store_true", help="no progress on stderr")
        report.add_options(p)

    run = sub.add_parser("run", help="run the pipeline on a NUFORC export (CSV, gzip as is)")
    run.add_argument("--input", required=True, help="the export file")
    run.add_argument(
        "--encoding", type=_encoding, default=None, help="e.g. utf-8 (default), cp1252"
    )
    run.add_argument("--delimiter", default=None, help="',' (default) or 'tab'")
    run.add_argument("--country-rule", choices=["us-or-blank", "us", "any"], default=None)
    run.add_argument("--decode-errors", choices=["strict", "replace"], default=None)
    run.add_argument(
        "--state-column", default=None, help="state column name (default: the one named state)"
    )
    run.add_argument(
        "--country-column",
        default=None,
        help="country column name (default: country or country_code if present, else none)",
    )
    common(run)
    demo = sub.add_parser("demo", help="run the pipeline on a generated NUFORC-shaped sample")
    demo.add_argument("--rows", type=int, default=20_000, help="sample size (default 20000)")
    demo.add_argument("--seed", type=int, default=0)
    common(demo)


def _apply_overrides(args: argparse.Namespace, set_option: Callable[[str, str, str], None]) -> None:
    keys = ("encoding", "delimiter", "country_rule", "decode_errors", "top", "ties")
    for key in (*keys, "state_column", "country_column"):
        value = getattr(args, key, None)
        if value is not None:
            set_option("ufo", key, str(value))
    if getattr(args, "verbose", False):
        # --verbose shows Spark's logs: its INFO lines too (quiet by default).
        set_option("spark_script", "spark_log_level", "INFO")


# -- the run ------------------------------------------------------------------------------------


def use_local_scheduler() -> bool:
    """Tell whether to use Luigi's local scheduler (no central scheduler configured)."""
    return not configured("core", SCHEDULER_KEYS)


def _build(task: luigi.Task, verbose: bool, sink: ProgressSink) -> None:
    local = use_local_scheduler()
    _FAILURES.clear()
    with reporting(sink) as factory:
        result = luigi.build(  # type: ignore[no-untyped-call]
            [task],
            worker_scheduler_factory=factory,
            local_scheduler=local,
            detailed_summary=True,
            # Failures are reported below, once, without Luigi's tracebacks (--verbose has them).
            log_level="INFO" if verbose else "CRITICAL",
        )
    ok = result.status.name in ("SUCCESS", "SUCCESS_WITH_RETRY")
    if not (result.scheduling_succeeded and ok):
        failures = "".join(f"{message}\n" for message in _FAILURES)
        raise PipelineFailedError(
            f"the pipeline for {task} did not finish ({result.status.name}):\n{failures}"
            f"{result.summary_text}\nrerun with --verbose for Luigi's and Spark's logs"
        )


@contextlib.contextmanager
def _step(sink: ProgressSink, name: str) -> Iterator[None]:
    started = time.perf_counter()
    sink.started(name, name)
    ok = False
    try:
        yield
        ok = True
    finally:
        sink.finished(name, ok)
        _TIMINGS[name] = time.perf_counter() - started


def run_pipeline(
    source: str,
    date: datetime.date,
    set_option: Callable[[str, str, str], None],
    *,
    verbose: bool = False,
    sink: ProgressSink | None = None,
) -> dict[str, Any]:
    """Import ``source`` for ``date``, build the pipeline and return the ``--json`` document."""
    # Importing a settings module registers its section for check_all_sections(): with the
    # tasks' own, these are every section a run reads.
    import luigi_ufo.lineage
    import luigi_ufo.s3.settings  # noqa: F401
    from luigi_ufo.postgres.settings import ConnectionSettings
    from luigi_ufo.ufo.results import invalidate, read_summary
    from luigi_ufo.ufo.tasks import ImportUFOExport, TopStatesToDatabase

    sink = sink or Quiet()
    check_all_sections()  # every section's errors before any service starts (exit 2)
    start_postgres = not postgres_configured()
    if not start_postgres:  # luigi.cfg's server: a stopped per-user one is exit 3, up front
        require_per_user_server(ConnectionSettings.from_config().params())
    settings = UfoSettings.from_config()
    try:
        rules.check_encoding(settings.encoding)
    except rules.InputError as exc:
        raise ConfigError(f"[ufo] {exc}") from None
    _TIMINGS.clear()
    start = time.perf_counter()
    with _step(sink, "check input"):
        layout = check_export(
            source,
            encoding=settings.encoding,
            delimiter=settings.delimiter,
            decode_errors=settings.decode_errors,
            state_column=settings.state_column,
            country_column=settings.country_column,
        )
        java = find_java()
    read_as = layout.describe()
    say(f"{source}: {read_as}, {settings.encoding}; lake {settings.lake}; java {java}")
    # The input is good: the report will be drawn after the Spark jobs.
    report.warm_up(connect=SparkSettings.from_config().connect)
    with contextlib.ExitStack() as stack:
        if start_postgres:
            with _step(sink, "PostgreSQL start"):
                status = stack.enter_context(embedded_postgres(set_option, say))
            how = "already running, shared" if status.adopted else "started"
            say(
                f"embedded PostgreSQL {status.url} (pid {status.pid}, {how}), "
                f"data in {data_dir() / 'postgres'}"
            )
        pause_point("pipeline-starting")
        with _step(sink, "ImportUFOExport"):
            ImportUFOExport(date=date, source=source).run()  # type: ignore[no-untyped-call]
            invalidate(date)
        try:
            _build(TopStatesToDatabase(date=date), verbose, sink)
        except PipelineFailedError:
            refused = refusal(source, settings)  # the aggregation refused the export: bad input
            if refused:
                raise InputFormatError(refused) from None
            raise
        summary = read_summary(date)
    _TIMINGS["total"] = time.perf_counter() - start
    say(", ".join(f"{name} {sec:.1f} s" for name, sec in _TIMINGS.items()))
    doc = summary.as_json()
    doc["layout"] = read_as
    return doc


def render_table(doc: dict[str, Any]) -> str:
    """Return the human-readable top-N table and row accounting."""
    lines = [f"Top {len(doc['top'])} US states by NUFORC sightings, {doc['date']}", ""]
    lines.append(f"{'rank':>4}  {'state':<5}  {'sightings':>9}")
    lines += [f"{r['rank']:>4}  {r['state']:<5}  {r['sightings']:>9,}" for r in doc["top"]]
    tied = doc.get("tied_beyond_cut") or []
    if tied:
        left = ", ".join(f"{r['state']} {r['sightings']:,}" for r in tied)
        lines.append(f"tied at the cut, left out (by state code): {left}")
    if "no country column" in doc.get("layout", ""):
        lines.append(f"read as: {doc['layout']}")
    rejected = doc["rejected"]
    total = doc["counted"] + sum(rejected.values())
    lines += [
        "",
        f"records {total:,}: counted {doc['counted']:,}, rejected {sum(rejected.values()):,}",
    ]
    lines += [f"  {reason:<18} {n:>9,}" for reason, n in rejected.items() if n]
    return "\n".join(lines)


def _demo_input(rows: int, seed: int) -> str:
    from luigi_ufo.ufo.sample import write_sample

    path = data_dir() / "demo" / f"nuforc-sample-{rows}-seed{seed}.csv.gz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write_sample(tmp, rows, seed=seed, compress=True)
        tmp.replace(path)
        say(f"generated {rows:,} sample rows in {path}")
    return str(path)


def main(args: argparse.Namespace) -> int:
    """Run ``luigi-ufo run`` or ``demo``; print the table (or JSON); return the exit status."""
    if args.top is not None and args.top < 1:
        say(f"error: --top {args.top!r} must be at least 1")
        return EXIT_USAGE
    date = args.date or datetime.datetime.now(datetime.timezone.utc).date()
    sink = open_display(quiet=args.quiet, stream=sys.stderr)
    try:
        with config_overrides() as set_option:
            _apply_overrides(args, set_option)
            source = args.input if args.command == "run" else _demo_input(args.rows, args.seed)
            source = str(Path(source).expanduser())
            doc = run_pipeline(source, date, set_option, verbose=args.verbose, sink=sink)
            report.after_run(args, source, date, doc, _TIMINGS)
    finally:
        sink.close()
    print(json.dumps(doc) if args.json else render_table(doc))
    report.finish(args, doc)
    return EXIT_OK
