"""``luigi-ufo``: run the reference UFO pipeline on embedded defaults, or on luigi.cfg's services.

``luigi-ufo run --input EXPORT`` imports a NUFORC export for a date and builds
``TopStatesToDatabase`` for it: a local lake directory, Spark ``local[*]``, an embedded
PostgreSQL and Luigi's local scheduler, unless luigi.cfg configures ``[ufo]``, ``[ufo_spark]``,
``[ufo_postgres]`` or a central scheduler. ``luigi-ufo demo`` does the same on a generated sample.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import luigi

from luigi_ufo.config import config_overrides
from luigi_ufo.errors import LuigiUfoError, PipelineFailedError
from luigi_ufo.ufo import embedded
from luigi_ufo.ufo.inputs import check_export
from luigi_ufo.ufo.settings import UfoSettings, data_dir

_TIMINGS: dict[str, float] = {}


def _record_time(task: luigi.Task, seconds: float) -> None:
    _TIMINGS[type(task).__name__] = seconds


luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)(_record_time)  # type: ignore[no-untyped-call]


def _say(message: str) -> None:
    print(f"luigi-ufo: {message}", file=sys.stderr, flush=True)


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date {text!r} is not YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    """Return the ``luigi-ufo`` argument parser."""
    parser = argparse.ArgumentParser(prog="luigi-ufo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--date", type=_date, default=None, help="partition date (default: today)")
        p.add_argument("--top", type=int, default=None, help="N of the top-N table (default 10)")
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        p.add_argument("--verbose", action="store_true", help="show Luigi's and Spark's logs")

    run = sub.add_parser("run", help="run the pipeline on a NUFORC export (CSV, gzip as is)")
    run.add_argument("--input", required=True, help="the export file")
    run.add_argument("--encoding", default=None, help="e.g. utf-8 (default), cp1252")
    run.add_argument("--delimiter", default=None, help="',' (default) or 'tab'")
    run.add_argument("--country-rule", choices=["us-or-blank", "us", "any"], default=None)
    run.add_argument("--decode-errors", choices=["strict", "replace"], default=None)
    common(run)
    demo = sub.add_parser("demo", help="run the pipeline on a generated NUFORC-shaped sample")
    demo.add_argument("--rows", type=int, default=20_000, help="sample size (default 20000)")
    demo.add_argument("--seed", type=int, default=0)
    common(demo)
    return parser


def _apply_overrides(args: argparse.Namespace, set_option: Callable[[str, str, str], None]) -> None:
    for key in ("encoding", "delimiter", "country_rule", "decode_errors", "top"):
        value = getattr(args, key, None)
        if value is not None:
            set_option("ufo", key, str(value))


def _build(task: luigi.Task, verbose: bool) -> None:
    local = embedded.use_local_scheduler()
    result = luigi.build(  # type: ignore[no-untyped-call]
        [task],
        local_scheduler=local,
        detailed_summary=True,
        log_level="INFO" if verbose else "WARNING",
    )
    ok = result.status.name in ("SUCCESS", "SUCCESS_WITH_RETRY")
    if not (result.scheduling_succeeded and ok):
        raise PipelineFailedError(
            f"the pipeline for {task} did not finish ({result.status.name}):\n"
            f"{result.summary_text}\nrerun with --verbose for Luigi's and Spark's logs"
        )


def run_pipeline(
    source: str,
    date: datetime.date,
    set_option: Callable[[str, str, str], None],
    *,
    verbose: bool = False,
) -> dict[str, Any]:
    """Import ``source`` for ``date``, build the pipeline and return the ``--json`` document."""
    from luigi_ufo.ufo.results import invalidate, read_summary
    from luigi_ufo.ufo.tasks import ImportUFOExport, TopStatesToDatabase

    settings = UfoSettings.from_config()
    _TIMINGS.clear()
    start = time.perf_counter()
    layout = check_export(
        source,
        encoding=settings.encoding,
        delimiter=settings.delimiter,
        decode_errors=settings.decode_errors,
    )
    java = embedded.find_java()
    _say(f"{source}: {layout} layout, {settings.encoding}; lake {settings.lake}; java {java}")
    _TIMINGS["check input"] = time.perf_counter() - start
    with embedded.embedded_postgres(set_option) as dsn:
        _TIMINGS["PostgreSQL start"] = time.perf_counter() - start - _TIMINGS["check input"]
        if dsn:
            _say(f"embedded PostgreSQL ({dsn}), data in {data_dir() / 'postgres'}")
        began = time.perf_counter()
        ImportUFOExport(date=date, source=source).run()  # type: ignore[no-untyped-call]
        invalidate(date)
        _TIMINGS["ImportUFOExport"] = time.perf_counter() - began
        _build(TopStatesToDatabase(date=date), verbose)
        summary = read_summary(date)
    _TIMINGS["total"] = time.perf_counter() - start
    _say(", ".join(f"{name} {sec:.1f} s" for name, sec in _TIMINGS.items()))
    return summary.as_json()


def render_table(doc: dict[str, Any]) -> str:
    """Return the human-readable top-N table and row accounting."""
    lines = [f"Top {len(doc['top'])} US states by NUFORC sightings, {doc['date']}", ""]
    lines.append(f"{'rank':>4}  {'state':<5}  {'sightings':>9}")
    lines += [f"{r['rank']:>4}  {r['state']:<5}  {r['sightings']:>9,}" for r in doc["top"]]
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
        _say(f"generated {rows:,} sample rows in {path}")
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``luigi-ufo`` command; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.top is not None and args.top < 1:
        _say(f"error: --top {args.top!r} must be at least 1")
        return 2
    date = args.date or datetime.datetime.now(datetime.timezone.utc).date()
    try:
        with config_overrides() as set_option:
            _apply_overrides(args, set_option)
            source = args.input if args.command == "run" else _demo_input(args.rows, args.seed)
            doc = run_pipeline(
                str(Path(source).expanduser()), date, set_option, verbose=args.verbose
            )
    except PipelineFailedError as exc:
        _say(f"error: {exc}")
        return 1
    except LuigiUfoError as exc:
        _say(f"error: {exc}")
        return 2
    print(json.dumps(doc) if args.json else render_table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
