"""Load a user's script and call it: the one loader, and the batch driver of SparkBackfill.

:func:`loaded_script` executes a script file afresh as a new module (from its source, never a
cached ``.pyc``, so an edit applies at the next run) whose functions pickle by value to the
executors; Connect mode's script process and the batch driver load scripts with it.
:func:`run_all` calls the script for every run of a batch, in either mode.

``spark-submit driver.py --script PATH --manifest PATH`` is the batch driver: the manifest is
JSON, ``{"runs": [{"label": "2024-01-01", "argv": [...]}, ...]}``. The script's optional
``main_batch(runs, spark)`` gets every run first, then ``main(argv, spark)`` is called for each
run it left, with one shared SparkSession; a failing run does not stop the others. Exit 0 when
every run returned 0, else 1 after a summary line naming the failed labels. Run by path (on a
cluster's driver too), so it imports only the standard library and pyspark, as a script must.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
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


@contextlib.contextmanager
def loaded_script(path: str | os.PathLike[str], files: Sequence[Path] = ()) -> Iterator[ModuleType]:
    """Execute the script file now as a new module; forget it when the block ends.

    ``files`` (a task's ``script_files``) are importable by their module names, each loaded from
    its source when first imported, as the script is, and pickled by value too; the script's
    directory is on ``sys.path``, as spark-submit puts it.
    """
    from pyspark import cloudpickle

    stem = "".join(c if c.isalnum() else "_" for c in Path(path).stem)
    name = f"luigi_ufo_script_{stem}_{uuid.uuid4().hex[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {str(path)!r} as a Python module; give a .py file")
    module = importlib.util.module_from_spec(spec)
    finder = _ScriptFiles(files)
    stale = {n: sys.modules.pop(n) for n in finder.paths if n in sys.modules}
    sys.meta_path.insert(0, finder)
    sys.path.insert(0, str(Path(path).parent))
    sys.modules[name] = module
    try:
        # From the source, never a __pycache__ .pyc: an edit within the same second that keeps
        # the file's size would otherwise run the old bytecode.
        with open(path, "rb") as fh:
            exec(compile(fh.read(), str(path), "exec"), module.__dict__)  # noqa: S102
        if not callable(getattr(module, "main", None)):
            raise ImportError(
                f"script {str(path)!r} has no main(argv, spark) function; define it as in the "
                "script contract"
            )
        cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
        try:
            yield module
        finally:
            cloudpickle.unregister_pickle_by_value(module)  # type: ignore[no-untyped-call]
    finally:
        sys.modules.pop(name, None)
        sys.meta_path.remove(finder)
        sys.path.remove(str(Path(path).parent))
        for loaded in finder.loaded:
            cloudpickle.unregister_pickle_by_value(loaded)  # type: ignore[no-untyped-call]
            sys.modules.pop(loaded.__name__, None)
        sys.modules.update(stale)


class _ScriptFiles(importlib.abc.MetaPathFinder):
    """Find a script's ``script_files`` by module name; load each from its source, by value."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.paths = {Path(f).stem: Path(f) for f in files}
        self.loaded: list[ModuleType] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        file = self.paths.get(name)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(name, file, loader=_FromSource(self, file))


class _FromSource(importlib.abc.Loader):
    def __init__(self, finder: _ScriptFiles, file: Path) -> None:
        self.finder, self.file = finder, file

    def exec_module(self, module: ModuleType) -> None:
        from pyspark import cloudpickle

        code = compile(self.file.read_bytes(), str(self.file), "exec")
        exec(code, module.__dict__)  # noqa: S102
        # A module pickled by value ships its whole namespace: a spec naming this loader would
        # make every executor import luigi_ufo (0.2 s per Python worker, or a failure where it
        # is not installed). The import system holds its own reference to the real spec.
        module.__spec__ = importlib.machinery.ModuleSpec(
            module.__name__, None, origin=str(self.file)
        )
        module.__loader__ = None
        cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
        self.finder.loaded.append(module)


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
    parser = argparse.ArgumentParser(prog="driver.py", description=__doc__.split("\n")[0])
    parser.add_argument("--script", required=True, help="the external script's file")
    parser.add_argument("--manifest", required=True, help="JSON file with the runs")
    args = parser.parse_args(argv)
    with open(find_file(args.manifest), encoding="utf-8") as fh:
        runs = json.load(fh)["runs"]
    from pyspark.sql import SparkSession

    with loaded_script(find_file(args.script)) as module:
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
