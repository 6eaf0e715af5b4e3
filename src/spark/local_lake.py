"""The reference scripts' speed-up on a local lake: a whole run in plain Python, no SQL session.

Shipped to Spark beside the scripts that import it (``spark-submit --py-files local_lake.py``;
the tasks list it in ``script_files``). On a few megabytes Spark's fixed costs dominate: a SQL
session costs seconds of CPU in a fresh JVM, a Spark Connect job a server round trip. So a
script hands :func:`local_runner` its whole run as a plain function of local paths (read the
inputs, compute, :func:`replace_dataset` the outputs) and this module picks where it runs:

- in this process, with a classic session (the one given, or this process's own, which is then
  never created) and Hadoop's plain local file system behind ``file:``. Work the run wants in
  Spark tasks goes through ``tasks(fn, items)``: one task per item of a SparkContext job, with
  no SQL session;
- in one Spark task, under Spark Connect with absolute local paths (and the plain local file
  system on the server, whose executors see those paths, as Spark's own ``file:`` I/O assumes):
  one server round trip; :func:`run_batch` does many runs in one job;
- nowhere: the script takes its DataFrame path. So does other storage (``s3a://``,
  ``hdfs://``), a replaced ``file:`` file system (it must see every write), and a relative path
  under Connect (the server resolves it against its own directory).

Crash safety is the task's: ExternalSparkScriptTask removes its outputs' flags before the run,
and :func:`replace_dataset` writes the new flag last, so a killed run leaves no flag.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import io
import os
import re
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

T = TypeVar("T")
#: ``tasks(fn, items)``: ``[fn(item) for item in items]``, each in a Spark task where it helps.
Tasks = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]
#: A whole run: given ``tasks``, it does everything and returns the line a run prints.
Run = Callable[[Tasks], str]

PART_NAME = "part-00000.csv"
FLAG_NAME = "_SUCCESS"
#: Runs done one after the other in one Spark task of a batch: enough that a task's start-up is
#: not the cost, few enough for parallelism and progress.
RUNS_PER_TASK = 8
#: What a run done in a Spark task returns: its label, the line it prints, the message of an
#: expected error, or the exception line and traceback of an unexpected one.
RUN_RESULT = "struct<label:string,summary:string,error:string,trace:string>"
_HADOOP_LOCAL_FS = (None, "org.apache.hadoop.fs.LocalFileSystem")


class RunFailed(RuntimeError):
    """A run failed in a Spark task with an unexpected exception (its traceback in the message)."""


# --- Paths and datasets --------------------------------------------------------------------


def local_path(uri: str) -> str | None:
    """Return the local path of ``uri``, or None if it is on another file system.

    ``file:`` URIs come from Spark's file index, percent-encoded; a path without a scheme (an
    --output argument) is taken as it is: '#', '?' and '%' in it are literal characters.
    """
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) else uri


def list_files(uri: str) -> list[str]:
    """Return the data files at local ``uri``, as Spark lists them: the file itself, or a
    directory's files without ``_``/``.`` names (flags, checksums), absolute and sorted.

    Raises FileNotFoundError when nothing is there.
    """
    path = os.path.abspath(local_path(uri) or uri)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(path)
    names = (n for n in sorted(os.listdir(path)) if not n.startswith(("_", ".")))
    return [p for p in (os.path.join(path, n) for n in names) if os.path.isfile(p)]


def read_texts(uri: str) -> list[tuple[str, str]]:
    """Return (path, text) of each data file at local ``uri``, as ``spark.read.text(uri,
    wholetext=True)`` reads them: ``.gz`` decompressed, bytes that are not UTF-8 replaced."""
    texts = []
    for path in list_files(uri):
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as fh:
            texts.append((path, fh.read().decode("utf-8", errors="replace")))
    return texts


def replace_dataset(uri: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Replace the local dataset at ``uri`` with ``rows`` in one CSV part, rendered as Spark's
    CSV writer renders them; the old flag goes first, the new one comes last."""
    path = local_path(uri)
    if path is None:
        raise ValueError(f"{uri!r} is not a local path")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        os.remove(os.path.join(path, FLAG_NAME))
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        old = os.path.join(path, name)
        shutil.rmtree(old) if os.path.isdir(old) and not os.path.islink(old) else os.remove(old)
    with open(os.path.join(path, PART_NAME), "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])
    with open(os.path.join(path, FLAG_NAME), "wb"):
        pass


# --- Where a run goes ----------------------------------------------------------------------


def is_connect(spark: Any) -> bool:
    """Tell whether ``spark`` is a Spark Connect session (no SparkContext behind it)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def plain_local_fs(conf: Any) -> bool:
    """Tell whether ``file:`` is Hadoop's own local file system in ``conf`` (SparkConf or
    ``spark.conf``): a configured replacement must see every write."""
    return conf.get("spark.hadoop.fs.file.impl", None) in _HADOOP_LOCAL_FS


def classic_conf() -> Any:
    """Return this process's SparkConf, or None if ``SparkSession.builder`` would give Connect.

    Connect comes from ``spark-submit --remote``, ``SPARK_REMOTE``, ``spark.api.mode=connect``
    or a pyspark-client install; this checks the same signals as the builder (a doubt means
    Connect: the DataFrame path runs in both kinds of session).
    """
    from pyspark import SparkConf, util

    env = os.environ
    remote_only: Callable[[], bool] = getattr(util, "is_remote_only", lambda: False)
    if remote_only() or {"SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"} & env.keys():
        return None
    mode = env.get("SPARK_API_MODE", "").lower()
    if mode not in ("classic", "connect"):
        mode = getattr(util, "default_api_mode", lambda: "classic")()
    if mode == "connect":
        return None
    from pyspark import SparkContext  # spark-connect: classic-only

    # The JVM gateway first (spark-submit's, or a new one): without it no --conf is loaded.
    SparkContext._ensure_initialized()
    conf = SparkConf()
    connect = conf.get("spark.remote", None) or conf.get("spark.api.mode", "") == "connect"
    return None if connect else conf


def absolute_local(uris: Sequence[str]) -> bool:
    """Tell whether every URI is an absolute local path (or ``file:`` URI)."""
    paths = [local_path(u) for u in uris]
    return all(p is not None and os.path.isabs(p) for p in paths)


@contextlib.contextmanager
def local_runner(
    spark: Any, uris: Sequence[str], *, app: str, errors: tuple[type[Exception], ...]
) -> Iterator[tuple[Any, Callable[[Run], str] | None]]:
    """Yield ``(session, local)``: ``local(run)`` does the run on the local lake of ``uris``
    here or in one Spark task, or ``local`` is None and ``session`` is the one to use.

    A session this creates (``SparkSession.builder``, or a SparkContext for ``tasks``) is stopped
    on exit. ``errors`` are the script's own errors: raised from a Spark task with their message.
    """
    local = all(local_path(u) is not None for u in uris)
    if spark is not None and is_connect(spark):
        one_job = local and absolute_local(uris) and plain_local_fs(spark.conf)
        yield spark, (lambda run: _run_in_one_job(spark, run, errors)) if one_job else None
        return
    if spark is not None:
        context = spark.sparkContext  # spark-connect: classic-only
        here = local and plain_local_fs(context.getConf())
        yield spark, (lambda run: run(_SparkTasks(context, errors))) if here else None
        return
    conf = classic_conf() if local else None
    if conf is not None and plain_local_fs(conf):
        tasks = _SparkTasks(conf.setAppName(app), errors)
        try:
            yield None, lambda run: run(tasks)
        finally:
            tasks.stop()
        return
    from pyspark.sql import SparkSession

    session = SparkSession.builder.appName(app).getOrCreate()
    try:
        with local_runner(session, uris, app=app, errors=errors) as found:
            yield found
    finally:
        session.stop()


class _SparkTasks:
    """``tasks(fn, items)`` of a classic run: one task per item of a SparkContext job."""

    def __init__(self, context_or_conf: Any, errors: tuple[type[Exception], ...]) -> None:
        self.errors = errors
        self._given = context_or_conf if hasattr(context_or_conf, "parallelize") else None
        self._conf = context_or_conf
        self._owned: Any = None

    def __call__(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        if not items:
            return []
        context = self._given or self._start()
        errors = self.errors
        outcomes = context.parallelize(items, len(items)).map(
            lambda item: _attempt(lambda: fn(item), errors)
        )
        results = []
        for value, error, trace in outcomes.collect():
            _raise(error, trace, errors)
            results.append(value)
        return results

    def _start(self) -> Any:
        from pyspark import SparkContext  # spark-connect: classic-only

        self._owned = self._owned or SparkContext.getOrCreate(self._conf)
        return self._owned

    def stop(self) -> None:
        if self._owned is not None:
            self._owned.stop()


def _attempt(
    call: Callable[[], T], errors: tuple[type[Exception], ...]
) -> tuple[T | None, str, str]:
    """Return (value, "", "") of ``call()``, else the error message (and the traceback of an
    unexpected exception): what crosses from a Spark task to the driver."""
    try:
        return call(), "", ""
    except errors as exc:
        return None, str(exc), ""
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def _raise(error: str, trace: str, errors: tuple[type[Exception], ...]) -> None:
    if trace:
        raise RunFailed(f"{error}\n  its traceback in the Spark task:\n{trace}")
    if error:
        raise errors[0](error)


def in_process(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """``tasks(fn, items)`` of a run already inside a Spark task (or of a test): in order, here."""
    return [fn(item) for item in items]


def run_in_task(
    label: str, run: Run, errors: tuple[type[Exception], ...]
) -> tuple[str, str, str, str]:
    """Do ``run`` whole in this process (a Spark task); return ``RUN_RESULT``, never raising,
    so one run's failure does not stop the others of its task."""
    summary, error, trace = _attempt(lambda: run(in_process), errors)
    return label, summary or "", error, trace


def _one_job(
    spark: Any, runs: Sequence[tuple[str, Run]], errors: tuple[type[Exception], ...]
) -> list[tuple[str, str, str, str]]:
    """Do ``runs`` in one Spark job, ``RUNS_PER_TASK`` per task; return each one's result."""
    from pyspark.sql import functions as F

    do = F.udf(lambda i: run_in_task(*runs[i], errors), RUN_RESULT, useArrow=False)
    tasks = -(-len(runs) // RUNS_PER_TASK)
    frame = spark.range(0, len(runs), 1, tasks).select(do("id"))
    return [tuple(row[0]) for row in frame.collect()]


def _run_in_one_job(spark: Any, run: Run, errors: tuple[type[Exception], ...]) -> str:
    ((_, summary, error, trace),) = _one_job(spark, [("", run)], errors)
    _raise(error, trace, errors)
    return summary


def run_batch(
    spark: Any,
    runs: Sequence[tuple[str, Sequence[str]]],
    parse: Callable[[list[str]], Any],
    uris: Callable[[Any], Sequence[str]],
    run: Callable[[Any, Tasks], str],
    *,
    app: str,
    errors: tuple[type[Exception], ...],
) -> dict[str, int | str]:
    """Do in one Spark job the runs that fit one (Spark Connect, absolute local paths).

    Each run's arguments are ``parse(argv)``; ``uris(args)`` are its URIs and ``run(args,
    tasks)`` does it. Runs whose arguments ``main`` must report (``parse`` raises or exits), and
    every run with a classic session, are left to ``main``. Returns ``{label: 0 or error}`` of
    the runs done: the ``main_batch`` contract of ExternalSparkScriptTask's scripts.
    """
    if spark is None or not is_connect(spark) or not plain_local_fs(spark.conf):
        return {}
    found: list[tuple[str, Run]] = []
    for label, argv in runs:
        with contextlib.redirect_stderr(io.StringIO()):  # main() reports usage errors itself
            try:
                args = parse(list(argv))
            except SystemExit:
                continue
            except errors:
                continue
        if absolute_local(uris(args)):
            found.append((label, functools.partial(run, args)))
    done: dict[str, int | str] = {}
    for label, summary, error, trace in _one_job(spark, found, errors) if found else []:
        if trace:
            print(f"{label}: {trace}", file=sys.stderr, end="")
        elif error:
            error = f"{app}: error: {error}"
        print(error or f"{label}: {summary}", file=sys.stderr if error else sys.stdout)
        done[label] = error or 0
    return done
