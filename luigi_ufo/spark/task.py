"""ExternalSparkScriptTask: a thin Luigi task that submits an external PySpark script."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import luigi
from luigi.task import flatten

from luigi_ufo.dated.lineage import LineageMixin, record_lineage
from luigi_ufo.dated.paths import is_s3_uri, to_s3a
from luigi_ufo.errors import ConfigError, MissingOutputError
from luigi_ufo.secrets import credential_values, is_credential_name, without_withheld
from luigi_ufo.setting import settings_by_name
from luigi_ufo.spark.command import (
    SparkOptions,
    SubmitSpec,
    credential_route,
    refuse_credentials_in_argv,
)
from luigi_ufo.spark.connect import ConnectRunner, ConnectSpec, server_argv, session_conf
from luigi_ufo.spark.connect_settings import local_tokens
from luigi_ufo.spark.logs import follow_luigi_console
from luigi_ufo.spark.reporting import report_safely
from luigi_ufo.spark.runner import RunResult, SparkSubmitRunner
from luigi_ufo.spark.scripts import Script, resolve_script
from luigi_ufo.spark.settings import SparkSettings, default_spark_submit

logger = logging.getLogger("luigi_ufo.spark")

#: Shared options SubmitSpec takes from the settings as they are (build_spec derives the
#: others), so a new SparkOptions field reaches spark-submit with no edit here.
PASSED_THROUGH = tuple(
    f.name
    for f in dataclasses.fields(SparkOptions)
    if f.name not in ("conf", "env", "properties_file")
)


class ExternalSparkScriptTask(LineageMixin, luigi.Task):
    """Submit the external PySpark script ``script`` with ``spark-submit``.

    The script receives ``--input URI [URI ...]`` for the task's inputs and
    ``--output URI [URI ...]`` for its outputs (``s3://`` given as ``s3a://``), then
    ``script_args``. Spark settings come from ``[spark_script]``; the class attribute
    ``spark_overrides`` (a mapping from setting name to value: ``master``, ``conf``,
    ``driver_memory``, ...) overrides them for this task (``conf`` and ``env`` merge key by key).
    The task's own parameters are never settings, whatever their names. The script is found
    at run time and read by spark-submit at submit time, so edits apply to the next run
    without restarting anything. After a successful run, what it was made from (its inputs and
    the script's sha256) is recorded beside each dated output's flag; ``rebuild_when`` says
    whether a change makes the output incomplete (see :mod:`luigi_ufo.dated.lineage`).

    Args:
        script: file name of the script under the scripts directory (class attribute or
            parameter).
        script_args: extra script arguments (class attribute, or a ``luigi.ListParameter``).

    Example:
        >>> class CountWords(ExternalSparkScriptTask):
        ...     script = "count_words.py"
        ...     spark_overrides = {"conf": {"spark.sql.shuffle.partitions": "4"}}
        ...     def requires(self):
        ...         return Words()
        ...     def output(self):
        ...         return luigi.LocalTarget("/data/counts")
    """

    # ClassVar: settings of the class, not luigi parameters (luigi's mypy plugin would
    # otherwise take them for constructor arguments and reject a subclass's own parameters).
    script: ClassVar[str] = ""
    #: Extra script arguments after --input/--output; may be redefined as a luigi.ListParameter.
    script_args: ClassVar[Sequence[Any]] = ()
    #: Spark application name; default: the task id.
    app_name: ClassVar[str | None] = None

    #: Per-task overrides of ``[spark_script]``, by setting name (``conf`` and ``env`` merge
    #: key by key). A namespace of their own: the task's parameters never become settings.
    spark_overrides: ClassVar[Mapping[str, Any]] = {}
    #: Whether outputs made from other inputs (or another script) are incomplete: None follows
    #: ``[lineage] rebuild_when`` (default ``never``); a value is a minimum.
    rebuild_when: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adopt_setting_attributes(cls)
        _check_overrides(cls)

    def spark_settings(self) -> SparkSettings:
        """Return ``[spark_script]`` with this class's ``spark_overrides`` applied."""
        return SparkSettings.from_config().override(
            self.spark_overrides, f"{type(self).__name__}.spark_overrides"
        )

    def input_uris(self) -> list[str]:
        """Return the Spark URIs of the task's inputs."""
        return [spark_uri(t) for t in flatten(self.input())]  # type: ignore[no-untyped-call]

    def output_uris(self) -> list[str]:
        """Return the Spark URIs of the task's outputs."""
        return [spark_uri(t) for t in flatten(self.output())]  # type: ignore[no-untyped-call]

    def app_options(self) -> list[str]:
        """Return the script's arguments; override to pass something else."""
        args: list[str] = []
        inputs, outputs = self.input_uris(), self.output_uris()
        if inputs:
            args += ["--input", *inputs]
        if outputs:
            args += ["--output", *outputs]
        return args + [str(a) for a in self.script_args]

    def lineage_code(self) -> str:
        """Return the script's sha256, recorded with what each run was made from."""
        return resolve_script(self.script, self.spark_settings().scripts_dir).sha256

    def secret_values(self) -> list[str]:
        """Return extra values to mask in logs and errors (credentials are masked already)."""
        return []

    def submit_spec(self, settings: SparkSettings | None = None) -> SubmitSpec:
        """Map this task onto a :class:`SubmitSpec` (resolves and reads the script now)."""
        settings = settings or self.spark_settings()
        script = resolve_script(self.script, settings.scripts_dir)
        # The hash tells which version of an edited script a given run submitted.
        logger.info("%s: script %s (sha256 %s)", self.task_id, script.path, script.sha256[:12])
        return build_spec(
            settings=settings,
            script=script,
            name=self.app_name or self.task_id,
            app_args=self.app_options(),
            uses_s3=any_on_s3(self.input_uris() + self.output_uris()),
            secrets=self.secret_values(),
        )

    def connect_spec(self, settings: SparkSettings) -> ConnectSpec:
        """Map this task onto a :class:`ConnectSpec` for the server at ``connect_url``."""
        script = resolve_script(self.script, settings.scripts_dir)
        logger.info("%s: script %s (sha256 %s)", self.task_id, script.path, script.sha256[:12])
        return ConnectSpec(
            url=settings.connect_url,
            script=script,
            name=self.task_id,
            conf=session_conf(settings.conf),
            secrets=connect_secrets(settings, self.secret_values()),
        )

    def run(self) -> None:
        """Run the script (spark-submit, or a Connect server), then check every output exists."""
        settings = self.spark_settings()
        made = self.lineage()  # the inputs and script this run reads, recorded once it succeeds
        if settings.connect:
            spec = self.connect_spec(settings)
            argv = server_argv(self.app_options(), self.input_uris() + self.output_uris(), spec.url)
            result = follow_run(
                self,
                lambda on_status: connect_runner(
                    self,
                    spec,
                    settings,
                    on_status=on_status,
                    leases=self.output_uris(),
                    # After any session a dead run left there has been ended.
                    before_write=lambda: remove_flags(self.output()),  # type: ignore[no-untyped-call]
                ).run_script(argv),
            )
        else:
            remove_flags(self.output())  # type: ignore[no-untyped-call]
            result = submit(self, self.submit_spec(settings), settings, leases=self.output_uris())
        self.check_outputs(result)
        record_lineage([self], [made])

    def check_outputs(self, result: RunResult) -> None:
        """Raise MissingOutputError unless every output exists after a successful run."""
        outputs = flatten(self.output())  # type: ignore[no-untyped-call]
        missing = [spark_uri(t) for t in outputs if not t.exists()]
        if missing:
            raise MissingOutputError(
                f"{_success(result)} but {len(missing)} output(s) of {self.task_id} do not "
                f"exist: {missing!r} (app id {result.app_id or 'unknown'}); make "
                f"{self.script!r} write every --output and its success flag (Spark's writers "
                "write _SUCCESS), and do not swallow errors in main()"
            )


def submit(
    task: luigi.Task, spec: SubmitSpec, settings: SparkSettings, *, leases: Sequence[str] = ()
) -> RunResult:
    """Run ``spec`` to completion, reporting progress, status and tracking URL to ``task``.

    ``leases`` are the output URIs: no other live application may write them meanwhile.
    Logged and reported as :func:`follow_run` says. A report the scheduler cannot take (luigid
    gone) is logged, never raised: it does not fail the run.
    """

    def run(on_status: Callable[[str], None]) -> RunResult:
        return SparkSubmitRunner(
            spec,
            base_env=without_withheld(os.environ, spec.env),
            leases=leases,
            lease_timeout_s=settings.lease_timeout,
            timeout=settings.timeout,
            tail_lines=settings.tail_lines,
            kill_grace_s=settings.kill_grace,
            spark_log_level=settings.spark_log_level,
            on_percent=_callback(task, "set_progress_percentage"),
            on_status=on_status,
            on_tracking_url=_callback(task, "set_tracking_url"),
        ).run()

    return follow_run(task, run)


def connect_runner(
    task: luigi.Task,
    spec: ConnectSpec,
    settings: SparkSettings,
    *,
    on_status: Callable[[str], None],
    leases: Sequence[str],
    before_write: Callable[[], None],
) -> ConnectRunner:
    """Map ``settings`` onto a :class:`ConnectRunner` reporting progress to ``task``."""
    set_percent = _callback(task, "set_progress_percentage")

    def on_percent(value: int) -> None:
        # A report the scheduler cannot take is logged, never raised (as in submit mode).
        report_safely(set_percent, "percent", value)

    return ConnectRunner(
        spec,
        timeout=settings.timeout,
        on_percent=on_percent,
        on_status=on_status,
        leases=leases,
        lease_timeout_s=settings.lease_timeout,
        kill_grace_s=settings.kill_grace,
        tail_lines=settings.tail_lines,
        before_write=before_write,
    )


def follow_run(task: luigi.Task, run: Callable[[Callable[[str], None]], RunResult]) -> RunResult:
    """Return ``run(on_status)``, reporting to ``task`` and to Luigi's console, in either mode.

    The run's lines and each status change are logged (on Luigi's console under its default
    logging) and sent to the scheduler (a report it cannot take is logged, never raised); the
    last status message says ``done: ...`` or ``failed ...``.
    """
    set_status = _callback(task, "set_status_message")

    def on_status(message: str) -> None:
        logger.info("%s: %s", task.task_id, message)
        report_safely(set_status, "status", message)

    started = time.monotonic()
    with follow_luigi_console():
        try:
            result = run(on_status)
        except Exception as exc:
            first_line = str(exc).split("\n", 1)[0]
            on_status(f"failed after {time.monotonic() - started:.0f} s: {first_line}")
            raise
        on_status(f"done: {_done(result)} in {result.duration_s:.0f} s")
    return result


def remove_flags(outputs: Any) -> None:
    """Remove the success flag of every output that has one, before its data is replaced.

    A kill anywhere in the replacement (Spark's own overwrite delete included) then leaves an
    incomplete output, never an old flag over deleted or half-written data.
    """
    for target in flatten(outputs):  # type: ignore[no-untyped-call]
        remove = getattr(target, "remove_flag", None)
        if callable(remove):
            remove()


def any_on_s3(uris: Sequence[str]) -> bool:
    """Whether any of ``uris`` is on S3 (spark-submit then gets the s3a settings)."""
    return any(is_s3_uri(u) for u in uris)


def build_spec(
    *,
    settings: SparkSettings,
    script: Script,
    name: str,
    app_args: Sequence[str],
    uses_s3: bool,
    secrets: Sequence[str] = (),
    base_env: Mapping[str, str] | None = None,
) -> SubmitSpec:
    """Map resolved settings and a script onto a :class:`SubmitSpec`."""
    conf: dict[str, str] = {}
    env: dict[str, str] = {}
    private: dict[str, str] = {}
    route = credential_route(settings.master, uses_s3=uses_s3)
    if route != "none":
        from luigi_ufo.s3 import s3a
        from luigi_ufo.s3.settings import S3Settings

        s3 = S3Settings.from_config()
        version = s3a.installed_hadoop_version()
        conf.update(s3a.s3a_conf(s3, hadoop_version=version, env_credentials=route == "env"))
        if route == "env":
            env.update(s3a.s3a_env(s3))
        else:
            env.update(s3a.s3a_region_env(s3))
            credentials = s3a.chain_credentials()
            if credentials is not None:
                private.update(s3a.s3a_credentials_conf(credentials))
    # Progress bars feed set_progress_percentage; a user's conf may still turn them off.
    conf["spark.ui.showConsoleProgress"] = "true"
    conf.update(settings.conf)
    python = settings.python or sys.executable
    env.update({"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python})
    env.update(settings.env)
    worker_env = os.environ if base_env is None else base_env
    # The worker's values too: a withheld credential may still be echoed by other means.
    found = credential_values([worker_env, env], settings.secret_env)
    found += [v for k, v in private.items() if is_credential_name(k)]
    found += _local_token()
    return SubmitSpec(
        app=str(script.path),
        app_args=tuple(app_args),
        name=name,
        **{option: getattr(settings, option) for option in PASSED_THROUGH},
        spark_submit=settings.spark_submit or default_spark_submit(),
        conf=conf,
        properties_file=_private_file(settings.properties_file),
        env=env,
        private_conf=private,
        secrets=tuple(v for v in [*found, *secrets] if v),
    )


def connect_secrets(settings: SparkSettings, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Values masked in a Connect run's output and errors: the token, credentials, ``extra``."""
    found = credential_values([os.environ], settings.secret_env) + _local_token()
    return tuple(v for v in [*found, *extra] if v)


def _local_token() -> list[str]:
    # The tokens of the user's local Connect servers, from their private files: a script may
    # print one in either mode, so both mask them.
    return local_tokens()


def spark_uri(target: Any) -> str:
    """Return the URI Spark should use for ``target`` (``s3://`` becomes ``s3a://``)."""
    uri = getattr(target, "spark_uri", None) or getattr(target, "path", None)
    if not isinstance(uri, str) or not uri:
        raise ConfigError(
            f"target {target!r} has neither .spark_uri nor .path, so its URI cannot be passed "
            "to the script; override app_options() to pass the arguments yourself"
        )
    return to_s3a(uri)


def _private_file(path: str | None) -> str | None:
    # A properties file may hold secrets (it is the alternative to the environment).
    if path is None:
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(
            f"[spark_script] properties_file {path!r} cannot be read ({exc.strerror}); fix the path"
        ) from None
    if mode & 0o077:
        raise ConfigError(
            f"[spark_script] properties_file {path!r} is readable by others (mode "
            f"{mode & 0o777:o}); run `chmod 600 {path}`"
        )
    return path


def _adopt_setting_attributes(cls: type[ExternalSparkScriptTask]) -> None:
    # Before spark_overrides, a plain class attribute named like a setting overrode it. Still
    # honoured, with a DeprecationWarning; a luigi.Parameter of that name is the user's own.
    settings = settings_by_name(SparkSettings)
    found = {
        name: value
        for name, value in vars(cls).items()
        if name in settings
        and not isinstance(value, luigi.Parameter)
        and not callable(value)
        and not isinstance(value, (property, classmethod, staticmethod))
    }
    if not found:
        return
    names = ", ".join(f"{n} = ..." for n in found)
    warnings.warn(
        f"{cls.__name__}: setting attribute(s) {names} are deprecated; write "
        f"spark_overrides = {{{', '.join(repr(n) + ': ...' for n in found)}}} instead",
        DeprecationWarning,
        stacklevel=3,
    )
    for name in found:
        delattr(cls, name)
    cls.spark_overrides = {**cls.spark_overrides, **found}


def _check_overrides(cls: type[ExternalSparkScriptTask]) -> None:
    # At class definition, so a misspelt or ill-typed override (or a credential that would
    # reach argv) fails at import, not mid-run.
    where = f"{cls.__name__}.spark_overrides"
    refuse_credentials_in_argv(SparkSettings().override(cls.spark_overrides, where), where)


def _success(result: RunResult) -> str:
    # A Connect run has no spark-submit: its "command" names the main() called.
    if result.command.startswith("main("):
        return f"{result.command} returned 0"
    return "spark-submit exited 0"


def _done(result: RunResult) -> str:
    if result.command.startswith("main("):
        return "main() returned 0"
    return f"application {result.app_id}" if result.app_id else "spark-submit exited 0"


def _callback(task: luigi.Task, name: str) -> Any:
    # Luigi sets these only while a worker runs the task; task.run() by hand has none.
    value = getattr(task, name, None)
    return value if callable(value) else None
