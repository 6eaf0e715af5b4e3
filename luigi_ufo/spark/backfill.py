"""SparkBackfill: every missing date of a dated ExternalSparkScriptTask in one Spark application.

``RangeDaily --of Task`` starts one ``spark-submit`` (one JVM, one SparkSession) per missing
date. SparkBackfill makes one run of the task's runner (:meth:`~luigi_ufo.spark.run.Runner.
run_batch`: the packaged batch driver submitted once, or one session of the Connect server): it
loads the task's script from its file, hands every date to the script's optional
``main_batch(runs, spark)`` and calls its ``main(argv, spark)`` for each date left, with one
shared session and the exact arguments each date's task would have passed.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import luigi
from luigi.task import BulkCompleteNotImplementedError

from luigi_ufo.errors import BackfillError, ConfigError, SparkSubmitError
from luigi_ufo.lineage import expect, record_lineage
from luigi_ufo.spark.reporting import follow_run
from luigi_ufo.spark.run import RunResult
from luigi_ufo.spark.scripts import resolve_script
from luigi_ufo.spark.task import ExternalSparkScriptTask, make_runner, remove_flags

logger = logging.getLogger("luigi_ufo.spark")


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

        def before_write() -> None:
            # Once the leases are held (and, in connect mode, a dead run's session ended).
            for task in tasks:
                remove_flags(task.output())  # type: ignore[no-untyped-call]

        def run(callbacks: dict[str, Any]) -> RunResult:
            runner = make_runner(
                settings,
                script=script,
                script_files=tasks[0].script_files_of(settings),
                name=self.task_id,
                uris=[u for t in tasks for u in t.input_uris() + t.output_uris()],
                secrets=sorted({v for t in tasks for v in t.secret_values()}),
                # Another run of these dates waits; one that died is cleaned up first.
                leases=[u for t in tasks for u in t.output_uris()],
                before_write=before_write,
                **callbacks,
            )
            return runner.run_batch(runs)

        failure: SparkSubmitError | None = None
        try:
            follow_run(self, run)
        except SparkSubmitError as exc:
            failure = exc
        record_lineage(tasks, made)
        attempted = set(missing)
        left = [d for d in self.missing_dates() if d in attempted]
        if left:
            raise BackfillError(_incomplete_message(self, left, len(missing), failure))
        if failure is not None:
            logger.warning(
                "%s: every date is complete, but the application failed: %s", self.task_id, failure
            )


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
            "the run succeeded, so the script returned 0 for these dates without writing every "
            "output and its success flag: make main() write every --output and return non-zero "
            "on error"
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
