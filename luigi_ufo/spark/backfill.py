"""SparkBackfill: every missing date of a dated ExternalSparkScriptTask in one Spark application.

``RangeDaily --of Task`` starts one ``spark-submit`` (one JVM, one SparkSession) per missing
date. SparkBackfill submits the packaged ``batch_main.py`` once (or, in connect mode, uses one
session of the server): it loads the task's script from its file, hands every date to the
script's optional ``main_batch(runs, spark)`` and calls its ``main(argv, spark)`` for each date
left, with one shared session and the exact arguments each date's task would have passed.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import luigi
from luigi.task import BulkCompleteNotImplementedError

from luigi_ufo.dated.lineage import expect, record_lineage
from luigi_ufo.errors import BackfillError, ConfigError, SparkSubmitError
from luigi_ufo.spark.connect import server_argv
from luigi_ufo.spark.runner import RunResult
from luigi_ufo.spark.scripts import Script, resolve_script
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.spark.task import (
    ExternalSparkScriptTask,
    any_on_s3,
    build_spec,
    connect_runner,
    connect_secrets,
    follow_run,
    remove_flags,
    submit,
)

logger = logging.getLogger("luigi_ufo.spark")

BATCH_MAIN = Path(__file__).with_name("batch_main.py")


class SparkBackfill(luigi.Task):
    """Run the incomplete dates in ``[start, stop)`` of ``of`` as one Spark application.

    ``of`` is an :class:`ExternalSparkScriptTask` with a date parameter (named by its
    ``date_param_name``, default ``date``) whose script follows the contract
    ``main(argv, spark=None)``. Its Spark settings, script and per-date arguments are used as
    they are; only the dates whose outputs are incomplete run (one bulk check per storage with
    :class:`~luigi_ufo.dated.DatedTaskMixin`). A date that fails does not stop the others: the
    task then fails naming the incomplete dates, the finished ones keep their outputs, and a
    rerun does only what is left.

    Example::

        luigi --module luigi_ufo.ufo SparkBackfill --of AggregateUFOsByState \\
            --start 2024-01-01 --stop 2025-01-01
    """

    # Annotated, so luigi's mypy plugin takes them for constructor arguments.
    of: Any = luigi.TaskParameter(description="the dated ExternalSparkScriptTask to backfill")
    start: datetime.date = luigi.DateParameter(description="first date, inclusive")
    stop: datetime.date = luigi.DateParameter(
        description="last date, exclusive (as RangeDaily's --stop)"
    )
    of_params: dict[str, Any] = luigi.DictParameter(
        default={}, description="other parameters of every task"
    )
    #: Overrides of ``of``'s Spark settings for the one batch application (e.g. more memory).
    spark_overrides: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        _check_of(self.of)

    @property
    def date_param_name(self) -> str:
        """The name of the date parameter of ``of``."""
        return _date_param_name(self.of)

    def dates(self) -> list[datetime.date]:
        """Every date of the range, in order."""
        days = (self.stop - self.start).days
        return [self.start + datetime.timedelta(days=i) for i in range(max(days, 0))]

    def task_for(self, date: datetime.date) -> ExternalSparkScriptTask:
        """The task of ``of`` for ``date``."""
        params = {**self.of_params, self.date_param_name: date}
        return self.of(**params)  # type: ignore[no-any-return]

    def missing_dates(self) -> list[datetime.date]:
        """The dates of the range whose task is incomplete (one bulk check where possible)."""
        dates = self.dates()
        factory = functools.partial(self.of, **self.of_params)
        try:
            done = set(self.of.bulk_complete.__func__(factory, dates))
        except BulkCompleteNotImplementedError:
            done = {d for d in dates if self.task_for(d).complete()}
        return [d for d in dates if d not in done]

    def complete(self) -> bool:
        return not self.missing_dates()

    def requires(self) -> list[Any]:
        return [self.task_for(d).requires() for d in self.missing_dates()]  # type: ignore[no-untyped-call]

    def run(self) -> None:
        """Run the missing dates in one application or Connect session; name any left undone."""
        missing = self.missing_dates()
        if not missing:
            return
        tasks = [self.task_for(d) for d in missing]
        made = expect(tasks)  # what each date is made from, recorded where it completes
        settings = (
            tasks[0]
            .spark_settings()
            .override(self.spark_overrides, f"{type(self).__name__}.spark_overrides")
        )
        if settings.timeout is not None:
            # The task's timeout is per date: each date would have had that long on its own.
            settings = dataclasses.replace(settings, timeout=settings.timeout * len(tasks))
        script = resolve_script(tasks[0].script, settings.scripts_dir)
        logger.info(
            "%s: %d date(s) of %s in one application, script %s (sha256 %s)",
            self.task_id,
            len(tasks),
            self.of.get_task_family(),
            script.path,
            script.sha256[:12],
        )
        runs = [
            {"label": d.isoformat(), "argv": t.app_options()}
            for d, t in zip(missing, tasks, strict=True)
        ]
        uris = [u for t in tasks for u in t.input_uris() + t.output_uris()]
        secrets = sorted({v for t in tasks for v in t.secret_values()})
        failure: SparkSubmitError | None = None
        if settings.connect:
            failure = self._connect(tasks, settings, runs, secrets)
        else:
            failure = self._submit(tasks, settings, script, runs, uris, secrets)
        record_lineage(tasks, made)
        attempted = set(missing)
        left = [d for d in self.missing_dates() if d in attempted]
        if left:
            raise BackfillError(_incomplete_message(self, left, len(missing), failure))
        if failure is not None:
            logger.warning(
                "%s: every date is complete, but the application failed: %s", self.task_id, failure
            )

    def _connect(
        self,
        tasks: list[ExternalSparkScriptTask],
        settings: SparkSettings,
        runs: list[dict[str, Any]],
        secrets: list[str],
    ) -> SparkSubmitError | None:
        """Run every date through the Connect server at ``connect_url`` in one remote session."""
        spec = dataclasses.replace(
            tasks[0].connect_spec(settings),
            name=self.task_id,
            secrets=connect_secrets(settings, secrets),
        )
        uris = [u for t in tasks for u in t.input_uris() + t.output_uris()]
        runs = [{**r, "argv": server_argv(r["argv"], uris, spec.url)} for r in runs]

        def before_write() -> None:
            # After any session a dead run left on these dates has been ended.
            for task in tasks:
                remove_flags(task.output())  # type: ignore[no-untyped-call]

        def run(on_status: Callable[[str], None]) -> RunResult:
            # The leases: another run of these dates waits, and one that died is cleaned up.
            return connect_runner(
                self,
                spec,
                settings,
                on_status=on_status,
                leases=[u for t in tasks for u in t.output_uris()],
                before_write=before_write,
            ).run_batch(runs)

        try:
            follow_run(self, run)
        except SparkSubmitError as exc:
            return exc
        return None

    def _submit(
        self,
        tasks: list[ExternalSparkScriptTask],
        settings: SparkSettings,
        script: Script,
        runs: list[dict[str, Any]],
        uris: list[str],
        secrets: list[str],
    ) -> SparkSubmitError | None:
        """Submit batch_main.py once for ``runs``; return its failure, if any."""
        with tempfile.TemporaryDirectory(prefix="luigi-ufo-backfill-") as tmp:
            manifest = Path(tmp) / f"{self.of.get_task_family()}-manifest.json"
            # Written 0600 in a 0700 directory: the arguments may name private locations.
            fd = os.open(manifest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"runs": runs}, fh)
            files = [str(script.path), str(manifest)]
            if settings.deploy_mode == "cluster":
                # The driver runs elsewhere: ship both files; batch_main finds them by basename.
                settings = dataclasses.replace(settings, files=(*settings.files, *files))
                files = [os.path.basename(f) for f in files]
            spec = build_spec(
                settings=settings,
                script=Script(path=BATCH_MAIN, sha256=""),
                name=self.task_id,
                app_args=["--script", files[0], "--manifest", files[1]],
                uses_s3=any_on_s3(uris),
                secrets=secrets,
            )
            for task in tasks:
                remove_flags(task.output())  # type: ignore[no-untyped-call]
            try:
                submit(self, spec, settings, leases=[u for t in tasks for u in t.output_uris()])
            except SparkSubmitError as exc:
                return exc
        return None


def _incomplete_message(
    task: SparkBackfill, left: list[datetime.date], attempted: int, failure: Exception | None
) -> str:
    shown = ", ".join(d.isoformat() for d in left[:10])
    more = f" and {len(left) - 10} more" if len(left) > 10 else ""
    kept = attempted - len(left)
    lines = [
        f"{len(left)} of {attempted} date(s) of {task.of.get_task_family()} are still incomplete "
        f"after the backfill: {shown}{more}"
        + (f"; the other {kept} completed and keep their outputs" if kept else ""),
        f"  fix: correct the cause below (input, script or settings) and rerun {task}; only "
        "the incomplete dates run again",
    ]
    if failure is not None:
        lines.append(str(failure))
    else:
        lines.append(
            "spark-submit exited 0, so the script returned 0 for these dates without writing "
            "every output and its success flag: make main() write every --output and return "
            "non-zero on error"
        )
    return "\n".join(lines)


def _check_of(of: Any) -> None:
    if not (isinstance(of, type) and issubclass(of, ExternalSparkScriptTask)):
        raise ConfigError(
            f"SparkBackfill --of {of!r} is not an ExternalSparkScriptTask; backfill a task that "
            "runs an external script, or use RangeDaily for other tasks"
        )
    name = _date_param_name(of)
    if name not in dict(of.get_params()):  # type: ignore[no-untyped-call]
        raise ConfigError(
            f"SparkBackfill --of {of.__name__} has no date parameter {name!r}; add "
            f"`{name} = luigi.DateParameter()` or set date_param_name to its date parameter"
        )


def _date_param_name(of: Any) -> str:
    # None (BulkCompleteMixin's default) or no attribute at all: "date".
    return str(getattr(of, "date_param_name", None) or "date")
