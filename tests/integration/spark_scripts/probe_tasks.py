"""Luigi tasks around probe.py, importable by name so spawned/forkserver workers find them."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any

import luigi

from luigi_ufo.dated import DatedTarget, DatedTaskMixin
from luigi_ufo.spark import ExternalSparkScriptTask, SparkSettings

DATE = datetime.date(2026, 11, 24)
_JVM_FAST = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
#: Small and quick on 2 cores: no web UI, 2 shuffle partitions, a JVM tuned for short runs.
FAST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.extraJavaOptions": _JVM_FAST,
    "spark.executor.extraJavaOptions": _JVM_FAST,
}


class ProbeInput(luigi.ExternalTask):
    path = luigi.Parameter()

    def output(self) -> Any:
        return luigi.LocalTarget(self.path)


class Probe(ExternalSparkScriptTask):
    """Run probe.py; its output is the dated partition ``root/2026-11-24/``."""

    script = "probe.py"
    root = luigi.Parameter()
    source = luigi.OptionalParameter(default=None)
    script_args = luigi.ListParameter(default=())

    def requires(self) -> Any:
        return ProbeInput(path=self.source) if self.source else []

    def output(self) -> Any:
        return DatedTarget(self.root, DATE)


class TimedProbe(Probe):
    """A per-task override derived from a parameter: ``timeout`` in seconds."""

    timeout = luigi.FloatParameter()
    tag = luigi.Parameter(default="")

    def spark_settings(self) -> SparkSettings:
        return (
            super()
            .spark_settings()
            .override({"timeout": self.timeout, "env": {"LUIGI_UFO_TEST_TAG": self.tag}})
        )


class PgProbe(Probe):
    """A task whose script needs PGPASSWORD: it asks for it in its own env."""

    def spark_settings(self) -> Any:
        settings = super().spark_settings()
        env = {**settings.env, "PGPASSWORD": os.environ.get("PGPASSWORD", "")}
        return dataclasses.replace(settings, env=env)


class PidProbe(Probe):
    """Record the pid of the process that runs the task (a worker process, not the caller)."""

    def run(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        with open(os.path.join(self.root, "task.pid"), "w", encoding="ascii") as fh:
            fh.write(str(os.getpid()))
        super().run()


class GatedRows(ExternalSparkScriptTask):
    """Run gated_rows.py; its output is the dated partition ``root/2026-11-24/``."""

    script = "gated_rows.py"
    root = luigi.Parameter()
    script_args = luigi.ListParameter(default=())

    def output(self) -> Any:
        return DatedTarget(self.root, DATE)


class ConnectProbe(Probe):
    """Run the DataFrame-only connect_probe.py (submit or connect mode, by configuration)."""

    script = "connect_probe.py"


class HelperProbe(Probe):
    """Run uses_helper.py, whose UDF calls a module it imports (``script_files``)."""

    script = "uses_helper.py"
    script_files = ("shout.py",)


class DatedConnectProbe(DatedTaskMixin, ExternalSparkScriptTask):
    """connect_probe.py for one date under ``root``, labelling its rows with the date."""

    date = luigi.DateParameter()
    root = luigi.Parameter()
    fail_label = luigi.Parameter(default="")
    script = "connect_probe.py"

    def output(self) -> Any:
        return DatedTarget(self.root, self.date)

    def app_options(self) -> list[str]:
        argv = ["--output", self.output().spark_uri, "--label", self.date.isoformat()]
        return argv + (["--fail-label", self.fail_label] if self.fail_label else [])


class TimedConnectProbe(ConnectProbe):
    """connect_probe.py with a per-task ``timeout`` in seconds."""

    timeout = luigi.FloatParameter()

    def spark_settings(self) -> SparkSettings:
        return super().spark_settings().override({"timeout": self.timeout})


class DriverWrites(ExternalSparkScriptTask):
    """Run driver_writes.py (the driver writes its rows itself); output ``root/2026-11-24/``."""

    script = "driver_writes.py"
    root = luigi.Parameter()
    script_args = luigi.ListParameter(default=())

    def output(self) -> Any:
        return DatedTarget(self.root, DATE)


class Stages(ExternalSparkScriptTask):
    """Run stages.py: a short stage, a longer one, then a pause; output ``root/2026-11-24/``."""

    script = "stages.py"
    root = luigi.Parameter()

    def output(self) -> Any:
        return DatedTarget(self.root, DATE)


EVENTS_ENV = "LUIGI_UFO_TEST_EVENTS"


@DriverWrites.event_handler(luigi.Event.SUCCESS)  # type: ignore[misc]
def _record_success(task: luigi.Task) -> None:
    _record_event(task, "SUCCESS")


@DriverWrites.event_handler(luigi.Event.FAILURE)  # type: ignore[misc]
def _record_failure(task: luigi.Task, exception: BaseException) -> None:
    _record_event(task, f"FAILURE {type(exception).__name__}: {exception}")


def _record_event(task: luigi.Task, what: str) -> None:
    # How the worker itself judged the task, whatever the scheduler heard of it.
    path = os.environ.get(EVENTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{task.task_id} {what.splitlines()[0]}\n")


class GatedFrame(ExternalSparkScriptTask):
    """Run connect_gated.py (DataFrame only); its output is the partition ``root/2026-11-24/``."""

    script = "connect_gated.py"
    root = luigi.Parameter()
    script_args = luigi.ListParameter(default=())

    def output(self) -> Any:
        return DatedTarget(self.root, DATE)


class DatedInputProbe(DatedConnectProbe):
    """DatedConnectProbe reading ``source`` (a luigi.LocalTarget: relative if given so)."""

    source = luigi.Parameter()

    def requires(self) -> Any:
        return ProbeInput(path=self.source)

    def app_options(self) -> list[str]:
        return ["--input", *self.input_uris(), *super().app_options()]


class DatedEchoProbe(DatedConnectProbe):
    """DatedConnectProbe whose script writes ``echo_env``'s values on every channel and fails."""

    echo_env = luigi.ListParameter(default=())

    def app_options(self) -> list[str]:
        return [*super().app_options(), "--mode", "channels", "--echo-env", *self.echo_env]


class ConnectPidProbe(PidProbe):
    """PidProbe with the DataFrame-only connect_probe.py (runs in connect mode too)."""

    script = "connect_probe.py"
