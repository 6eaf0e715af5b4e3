"""Run one external script many times in one Spark application (submitted by SparkBackfill).

``spark-submit batch_main.py --script PATH --manifest PATH``: the manifest is JSON,
``{"runs": [{"label": "2024-01-01", "argv": [...]}, ...]}``. The script is loaded from its file
once; its optional ``main_batch(runs, spark)`` gets every run first, then ``main(argv, spark)``
is called for each run it left, with one shared SparkSession; a failing run does not stop the
others. Exit 0 when every run returned 0, else 1 after a summary line naming the
failed labels. Standalone on purpose: it imports only the standard library and pyspark, as a
script must.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, TextIO

PREFIX = "luigi-ufo batch"
SHOWN_FAILURES = 20


def find_file(path: str) -> str:
    """Return ``path``, or its basename in the working directory (shipped with ``--files``)."""
    if os.path.exists(path):
        return path
    local = os.path.basename(path)
    if os.path.exists(local):
        return local
    raise FileNotFoundError(f"{PREFIX}: {path!r} not found (nor {local!r} in {os.getcwd()!r})")


def load_script(path: str) -> ModuleType:
    """Import the script file as a module whose functions pickle by value to the executors."""
    stem = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"luigi_ufo_batch_{stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{PREFIX}: cannot import {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "main", None)):
        raise ImportError(f"{PREFIX}: {path!r} has no main(argv, spark) function")
    return module


class _LastLine(io.TextIOBase):
    """Pass text through to ``stream`` and remember the last non-blank line written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> int:
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            self.last = lines[-1].strip()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def run_all(
    main: Callable[..., Any],
    runs: Sequence[dict[str, Any]],
    spark: Any,
    alive: Callable[[], bool],
    main_batch: Callable[..., Any] | None = None,
) -> dict[str, str]:
    """Run every entry; return ``{label: reason}`` of the failed runs.

    With the script's optional ``main_batch``, it is called first with every run as
    ``[(label, argv), ...]`` and returns ``{label: 0 or error}`` for the runs it did (an error is a
    message or a non-zero exit code); ``main(argv, spark=spark)`` is then called per run left.
    A run fails when main raises or returns non-zero; its reason is the last line it wrote to
    stderr (the error message, or the exception line of the traceback). Once the session is dead
    (``alive()`` is false) the remaining runs are not attempted and count as failed.
    """
    batched = call_batch(main_batch, runs, spark) if main_batch is not None else {}
    failed: dict[str, str] = {}
    for number, run in enumerate(runs, 1):
        label = str(run["label"])
        if label in batched:
            reason = batched[label]
            status = "FAILED" if reason else "ok"
            print(f"{PREFIX}: {number}/{len(runs)} {label} {status} (main_batch)", file=sys.stderr)
            if reason:
                failed[label] = reason
            continue
        if not alive():
            failed[label] = "not run: the Spark session had stopped"
            continue
        err = _LastLine(sys.stderr)
        with contextlib.redirect_stderr(err):
            try:
                code = main(list(run["argv"]), spark=spark)
            except SystemExit as exc:  # argparse errors
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
        status = "ok" if not code else f"FAILED (exit {code})"
        print(f"{PREFIX}: {number}/{len(runs)} {label} {status}", file=sys.stderr, flush=True)
        if code:
            failed[label] = err.last or f"exit {code}"
    return failed


def call_batch(
    main_batch: Callable[..., Any], runs: Sequence[dict[str, Any]], spark: Any
) -> dict[str, str]:
    """Call ``main_batch(runs, spark)``; return ``{label: ""}`` per run done, else its reason.

    What it raises propagates: the application (or the session) failed as a whole, and the runs
    it finished keep their outputs.
    """
    given = [(str(run["label"]), list(run["argv"])) for run in runs]
    labels = [label for label, _ in given]
    results = main_batch(given, spark)
    if not isinstance(results, Mapping):
        raise TypeError(
            f"{PREFIX}: main_batch() returned {type(results).__name__}, not a mapping of "
            "{label: 0 or error}"
        )
    unknown = sorted(set(map(str, results)) - set(labels))
    if unknown:
        raise ValueError(f"{PREFIX}: main_batch() returned labels it was not given: {unknown!r}")
    done: dict[str, str] = {}
    for label, result in results.items():
        if result is None or result == 0:
            done[str(label)] = ""
        elif isinstance(result, int) and not isinstance(result, bool):
            done[str(label)] = f"exit {result}"
        else:
            lines = str(result).strip().splitlines()
            done[str(label)] = lines[-1] if lines else "failed"
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """Load the script and the manifest, run every entry in one session, report failures."""
    parser = argparse.ArgumentParser(prog="batch_main.py", description=__doc__.split("\n")[0])
    parser.add_argument("--script", required=True, help="the external script's file")
    parser.add_argument("--manifest", required=True, help="JSON file with the runs")
    args = parser.parse_args(argv)
    with open(find_file(args.manifest), encoding="utf-8") as fh:
        runs = json.load(fh)["runs"]
    module = load_script(find_file(args.script))
    from pyspark import cloudpickle
    from pyspark.sql import SparkSession

    cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
    spark = SparkSession.builder.getOrCreate()
    try:
        alive = lambda: spark.sparkContext._jsc is not None  # noqa: E731
        failed = run_all(module.main, runs, spark, alive, getattr(module, "main_batch", None))
    finally:
        spark.stop()
    if failed:
        # Last, so the reasons are in the tail that the task's error message shows.
        for label, reason in list(failed.items())[:SHOWN_FAILURES]:
            print(f"{PREFIX}: {label} failed: {reason}", file=sys.stderr)
        print(f"{PREFIX}: {len(failed)} of {len(runs)} run(s) failed", file=sys.stderr)
        return 1
    print(f"{PREFIX}: {len(runs)} run(s) ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
