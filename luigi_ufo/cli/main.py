"""``luigi-ufo``: run the reference UFO pipeline on embedded defaults, or on luigi.cfg's services.

The commands: ``run`` and ``demo`` (:mod:`luigi_ufo.cli.pipeline`), ``report`` and ``gaps``
(:mod:`luigi_ufo.cli.report`, :mod:`luigi_ufo.cli.gaps`), ``db`` (the per-user
PostgreSQL, :mod:`luigi_ufo.cli.db`), ``dev`` (the cluster topology on this machine,
:mod:`luigi_ufo.cli.dev`) and ``connect`` (a warm Spark Connect server,
:mod:`luigi_ufo.cli.connect`). This module parses, dispatches, turns SIGINT/SIGTERM into a clean
exit and maps errors to the exit status.

Exit status (:mod:`luigi_ufo.exit_status`): 0 success; 1 the pipeline failed (a task failed,
scheduling failed, a service could not be started or stopped by itself, a ``dev`` is already
running); 2 bad input, usage or configuration; 3 not running: ``db status|url|psql``, a run whose
luigi.cfg names the stopped per-user server, ``dev status`` (nothing runs), ``connect status``;
130 interrupted (Ctrl-C, SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn

from luigi_ufo.cli import connect, db, dev, gaps, pipeline, report
from luigi_ufo.cli.progress import say
from luigi_ufo.errors import (
    DatabaseNotRunningError,
    LuigiUfoError,
    PipelineFailedError,
    ServiceError,
)
from luigi_ufo.exit_status import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_RUNNING,
    EXIT_TERMINATED,
    EXIT_USAGE,
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup on the way out runs."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one ``luigi-ufo: error:`` line, exit 2."""

    def error(self, message: str) -> NoReturn:
        say(f"error: {message} (see {self.prog} --help)")
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
    pipeline.add_parsers(sub)
    db.add_parser(sub)
    connect.add_parser(sub)
    dev.add_parser(sub)
    report.add_parser(sub, pipeline.parse_date)
    gaps.add_parser(sub, pipeline.parse_date)
    return parser


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
        return db.main(args)
    if args.command == "dev":
        return dev.main(args, say)
    if args.command in ("report", "gaps"):
        return report.main(args) if args.command == "report" else gaps.main(args)
    return pipeline.main(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``luigi-ufo`` command; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "connect":
        return connect.main(args)
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
        say(f"interrupted by {first.name}; nothing was left running")
        return EXIT_TERMINATED if first == signal.SIGTERM else EXIT_INTERRUPTED
    if message:
        say(message)
    return code


def exit_quickly(code: int) -> NoReturn:
    """Exit with ``code`` as a normal exit does, minus the interpreter's teardown of every module
    (about 0.3 s of CPU once Luigi and pyspark are loaded): the atexit handlers (logging's flush
    among them) run and the standard streams are flushed. A thread that a normal exit would wait
    for, or a stream that cannot be flushed (a closed pipe), gets the normal exit."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def console() -> NoReturn:
    """The ``luigi-ufo`` console script: :func:`main`, then :func:`exit_quickly`."""
    exit_quickly(main())


if __name__ == "__main__":
    console()
