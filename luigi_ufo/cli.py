"""``luigi-ufo``: run the reference UFO pipeline on embedded defaults, or on luigi.cfg's services.

``luigi-ufo run --input EXPORT`` imports a NUFORC export for a date and builds
``TopStatesToDatabase`` for it: a local lake directory, Spark ``local[*]``, an embedded
PostgreSQL and Luigi's local scheduler, unless luigi.cfg configures ``[ufo]``, ``[spark_script]``,
``[postgres_topn]`` or a central scheduler. ``luigi-ufo demo`` does the same on a generated sample.
``luigi-ufo db start|stop|status|url|psql`` manages the per-user PostgreSQL outside a run.
``luigi-ufo dev [start|status|stop]`` runs the cluster topology on this machine without Docker:
luigid, a Spark standalone master with ``--spark-workers N`` workers, the per-user PostgreSQL and,
with ``--s3`` / ``--connect``, a moto S3 lake and a warm Spark Connect server, all on loopback; it
writes a luigi.cfg pointing at them (``--config``, default ./luigi.cfg; a file it did not write
is replaced only with ``--force``; moto's fake keys go to an env file to source, never into
luigi.cfg). It stays in the foreground until Ctrl-C/SIGTERM, stopping what it started (services
already running, such as a ``db start`` server, are left running); ``--detach`` returns once up,
``dev stop`` stops it, ``dev status`` lists the services with URLs and PIDs.

Exit status (:mod:`luigi_ufo.exit_status`): 0 success; 1 the pipeline failed (a task failed,
scheduling failed, a service could not be started or stopped by itself, a ``dev`` is already
running); 2 bad input, usage or configuration; 3 not running: ``db status|url|psql``, a run whose
luigi.cfg names the stopped per-user server, ``dev status`` (nothing runs), ``connect status``;
130 interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import luigi

from luigi_ufo._pause import pause_point
from luigi_ufo.cli_progress import ProgressSink, Quiet, open_display, reporting
from luigi_ufo.config import check_all_sections, config_overrides
from luigi_ufo.dev import cli as dev_cli
from luigi_ufo.errors import (
    ConfigError,
    DatabaseNotRunningError,
    InputFormatError,
    LuigiUfoError,
    PipelineFailedError,
    ServiceError,
)
from luigi_ufo.exit_status import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
)
from luigi_ufo.scripts import aggregate_by_state as rules
from luigi_ufo.spark import connect_cli
from luigi_ufo.ufo import embedded
from luigi_ufo.ufo.inputs import check_export, refusal
from luigi_ufo.ufo.settings import UfoSettings, data_dir

_TIMINGS: dict[str, float] = {}
_FAILURES: list[str] = []


def _record_time(task: luigi.Task, seconds: float) -> None:
    _TIMINGS[type(task).__name__] = seconds


def _record_failure(task: luigi.Task, exception: BaseException) -> None:
    _FAILURES.append(f"{task} failed: {exception}")


luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)(_record_time)  # type: ignore[no-untyped-call]
luigi.Task.event_handler(luigi.Event.FAILURE)(_record_failure)  # type: ignore[no-untyped-call]


def _say(message: str) -> None:
    print(f"luigi-ufo: {message}", file=sys.stderr, flush=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup on the way out runs."""


# -- argument parsing ---------------------------------------------------------------------------

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


class _Parser(argparse.ArgumentParser):
    """Usage errors as one ``luigi-ufo: error:`` line, exit 2."""

    def error(self, message: str) -> NoReturn:
        _say(f"error: {message} (see {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``luigi-ufo`` argument parser."""
    parser = _Parser(
        prog="luigi-ufo",
        description=__doc__.split("\n")[0],
        epilog="exit status: 0 ok, 1 pipeline failed, 2 bad input/usage/config, "
        "3 not running (db, dev, connect), 130 interrupted, 143 terminated",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--date",
            type=parse_date,
            default=None,
            help="partition date YYYY-MM-DD (default: today)",
        )
        p.add_argument("--top", type=int, default=None, help="N of the top-N table (default 10)")
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        shown = p.add_mutually_exclusive_group()
        shown.add_argument("--verbose", action="store_true", help="show Luigi's and Spark's logs")
        shown.add_argument("--quiet", action="store_true", help="no progress on stderr")

    run = sub.add_parser("run", help="run the pipeline on a NUFORC export (CSV, gzip as is)")
    run.add_argument("--input", required=True, help="the export file")
    run.add_argument(
        "--encoding", type=_encoding, default=None, help="e.g. utf-8 (default), cp1252"
    )
    run.add_argument("--delimiter", default=None, help="',' (default) or 'tab'")
    run.add_argument("--country-rule", choices=["us-or-blank", "us", "any"], default=None)
    run.add_argument("--decode-errors", choices=["strict", "replace"], default=None)
    common(run)
    demo = sub.add_parser("demo", help="run the pipeline on a generated NUFORC-shaped sample")
    demo.add_argument("--rows", type=int, default=20_000, help="sample size (default 20000)")
    demo.add_argument("--seed", type=int, default=0)
    common(demo)
    db = sub.add_parser("db", help="the per-user PostgreSQL: start, stop, status, url, psql")
    actions = db.add_subparsers(dest="action", required=True)
    actions.add_parser("start", help="start it and keep it running (runs leave it up)")
    actions.add_parser("stop", help="stop it (once no run uses it)")
    actions.add_parser("status", help="print its URL and PID, or exit 3 if it is not running")
    actions.add_parser("url", help="print its libpq URL (for psql, psycopg2, luigi.cfg's dsn)")
    psql = actions.add_parser("psql", help="open psql on it; arguments after -- go to psql")
    psql.add_argument("psql_args", nargs="*", metavar="-- PSQL_ARG")
    connect_cli.add_parser(sub)
    dev_cli.add_parser(sub)
    return parser


# -- the pipeline -------------------------------------------------------------------------------


def _apply_overrides(args: argparse.Namespace, set_option: Callable[[str, str, str], None]) -> None:
    for key in ("encoding", "delimiter", "country_rule", "decode_errors", "top"):
        value = getattr(args, key, None)
        if value is not None:
            set_option("ufo", key, str(value))
    if getattr(args, "verbose", False):
        # --verbose shows Spark's logs: its INFO lines too (quiet by default).
        set_option("spark_script", "spark_log_level", "INFO")


def _build(task: luigi.Task, verbose: bool, sink: ProgressSink) -> None:
    local = embedded.use_local_scheduler()
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
    from luigi_ufo.postgres.connection import ConnectionSettings
    from luigi_ufo.ufo.results import invalidate, read_summary
    from luigi_ufo.ufo.tasks import ImportUFOExport, TopStatesToDatabase

    sink = sink or Quiet()
    check_all_sections()  # every section's errors before any service starts (exit 2)
    start_postgres = not embedded.postgres_configured()
    if not start_postgres:  # luigi.cfg's server: a stopped per-user one is exit 3, up front
        embedded.require_per_user_server(ConnectionSettings.from_config().params())
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
        )
        java = embedded.find_java()
    _say(f"{source}: {layout} layout, {settings.encoding}; lake {settings.lake}; java {java}")
    with contextlib.ExitStack() as stack:
        if start_postgres:
            with _step(sink, "PostgreSQL start"):
                status = stack.enter_context(embedded.embedded_postgres(set_option, _say))
            how = "already running, shared" if status.adopted else "started"
            _say(
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


def _run_command(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 1:
        _say(f"error: --top {args.top!r} must be at least 1")
        return EXIT_USAGE
    date = args.date or datetime.datetime.now(datetime.timezone.utc).date()
    sink = open_display(quiet=args.quiet, stream=sys.stderr)
    try:
        with config_overrides() as set_option:
            _apply_overrides(args, set_option)
            source = args.input if args.command == "run" else _demo_input(args.rows, args.seed)
            doc = run_pipeline(
                str(Path(source).expanduser()), date, set_option, verbose=args.verbose, sink=sink
            )
    finally:
        sink.close()
    print(json.dumps(doc) if args.json else render_table(doc))
    return EXIT_OK


# -- the per-user database ----------------------------------------------------------------------


def _db_command(args: argparse.Namespace) -> int:
    server = embedded.per_user_server(_say)
    where = f"data in {str(server.base_dir)!r}"
    if args.action == "start":
        status = server.start_kept()
        how = "was already running" if status.adopted else "started"
        _say(f"PostgreSQL {how} (pid {status.pid}), {where}; it runs until `luigi-ufo db stop`")
        _say(how_to_connect(status.url))
        print(status.url)
        return EXIT_OK
    if args.action == "stop":
        _say(f"PostgreSQL {server.stop()}, {where}")
        return EXIT_OK
    running = server.status()
    if args.action == "status":
        if running is None:
            print(f"not running ({where}); start it with `luigi-ufo db start`")
            return EXIT_NOT_RUNNING
        who = "kept by `luigi-ufo db start`" if running.kept else "started by a luigi-ufo run"
        print(f"running {running.url} pid {running.pid} ({who}; {where})")
        return EXIT_OK
    if args.action == "url":
        url = server.url()
        if url is not None:
            _say(how_to_connect(url))
            print(url)
        if running is None:
            _say(f"PostgreSQL is not running ({where}); start it with `luigi-ufo db start`")
            return EXIT_NOT_RUNNING
        return EXIT_OK
    if running is None:
        _say(f"PostgreSQL is not running ({where}); start it with `luigi-ufo db start`")
        return EXIT_NOT_RUNNING
    return _exec_psql(running.url, args.psql_args)


def how_to_connect(url: str) -> str:
    """Say how psql, psycopg2 and luigi.cfg connect to the per-user server at ``url``."""
    return (
        f"connect with psql '{url}', psycopg2.connect('{url}') or, in luigi.cfg, [postgres_topn] "
        f"dsn = {url.replace('%', '%%')} (a Unix socket in a private directory: only this user "
        "can connect; no password)"
    )


def _exec_psql(url: str, extra: list[str]) -> int:
    from luigi_ufo.postgres.server import find_bindir

    bindir = find_bindir()
    candidates = [str(bindir / "psql")] if bindir is not None else []
    found = next((c for c in candidates if os.access(c, os.X_OK)), None) or shutil.which("psql")
    if found is None:
        raise ConfigError(
            "psql was not found beside the PostgreSQL server binaries or on PATH; install the "
            f"PostgreSQL client (e.g. apt-get install postgresql-client) or connect to {url}"
        )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(found, [found, url, *extra])  # noqa: S606 - an argv list, no shell


# -- entry point --------------------------------------------------------------------------------


@contextlib.contextmanager
def _interrupts() -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt; the list gets the signals received.

    The list is complete when the block ends: a handler installed inside it (the Spark runner
    turns SIGTERM into a task failure while spark-submit runs) is seen through a wakeup fd,
    which Python writes every signal number to, whichever handler runs.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    # A signal ignored from the start (SIGINT of a background job in a script) stays ignored.
    wanted = tuple(
        s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) != signal.SIG_IGN
    )
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(previous_fd)
        with contextlib.suppress(BlockingIOError):
            received += [n for n in os.read(read_end, 4096) if n in wanted]
        os.close(read_end)
        os.close(write_end)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "db":
        return _db_command(args)
    if args.command == "dev":
        return dev_cli.main(args, _say)
    return _run_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``luigi-ufo`` command; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "connect":
        return connect_cli.main(args)
    verbose = getattr(args, "verbose", False)
    code, message = EXIT_FAILED, ""
    with _interrupts() as received:
        try:
            code = _dispatch(args)
        except KeyboardInterrupt as exc:
            received.append(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        except DatabaseNotRunningError as exc:
            code, message = EXIT_NOT_RUNNING, f"error: {exc}"
        except (PipelineFailedError, ServiceError) as exc:
            message = f"error: {exc}"
        except LuigiUfoError as exc:
            code, message = EXIT_USAGE, f"error: {exc}"
        except Exception as exc:
            if verbose:
                traceback.print_exc()
            hint = "" if verbose else " (rerun with --verbose for the traceback)"
            message = f"error: unexpected {type(exc).__name__}: {exc}{hint}"
    if received:
        # A failure that an interrupt caused (a Spark task killed by it) is the interrupt.
        first = signal.Signals(received[0])
        _say(f"interrupted by {first.name}; nothing was left running")
        return EXIT_TERMINATED if first == signal.SIGTERM else EXIT_INTERRUPTED
    if message:
        _say(message)
    return code


if __name__ == "__main__":
    sys.exit(main())
