"""ExternalSparkScriptTask: a thin Luigi task that submits an external PySpark script."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import luigi
from luigi.task import flatten

from luigi_ufo.errors import ConfigError, MissingOutputError
from luigi_ufo.lineage import LineageMixin, record_lineage
from luigi_ufo.secrets import without_withheld
from luigi_ufo.settings.fields import settings_by_name
from luigi_ufo.spark.connect.runner import ConnectRunner, ConnectSpec, session_conf
from luigi_ufo.spark.reporting import follow_run
from luigi_ufo.spark.run import Runner, RunResult, masked_values, runner_options
from luigi_ufo.spark.scripts import Script, code_sha256, resolve_script, resolve_script_files
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.spark.submit.build import build_spec
from luigi_ufo.spark.submit.runner import SparkSubmitRunner
from luigi_ufo.spark.submit.spec import SubmitSpec, refuse_credentials_in_argv
from luigi_ufo.uris import is_s3_uri, to_s3a

logger = logging.getLogger("luigi_ufo.spark")


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
    whether a change makes the output incomplete (see :mod:`luigi_ufo.lineage`).

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
    #: Modules (``.py`` files of the scripts directory) the script imports: read with it at
    #: submit time, ``--py-files`` in submit mode, importable and shipped by value in Connect mode.
    script_files: ClassVar[Sequence[str]] = ()
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
        """Return the script's sha256 (with ``script_files``, one over all), recorded with what
        each run was made from."""
        scripts_dir = self.spark_settings().scripts_dir
        files = resolve_script_files(self.script_files, scripts_dir)
        return code_sha256(resolve_script(self.script, scripts_dir), files)

    def secret_values(self) -> list[str]:
        """Return extra values to mask in logs and errors (credentials are masked already)."""
        return []

    def submit_spec(self, settings: SparkSettings | None = None) -> SubmitSpec:
        """Map this task onto a :class:`SubmitSpec` (resolves and reads the script now)."""
        settings = settings or self.spark_settings()
        return build_spec(
            settings=settings,
            script=self._script(settings),
            name=self.app_name or self.task_id,
            app_args=self.app_options(),
            uses_s3=any_on_s3(self.input_uris() + self.output_uris()),
            script_files=self.script_files_of(settings),
            secrets=self.secret_values(),
        )

    def spark_runner(self, settings: SparkSettings, **callbacks: Any) -> Runner:
        """The runner of ``settings.mode`` for this task; ``callbacks``: ``on_percent``, ..."""
        return make_runner(
            settings,
            script=self._script(settings),
            script_files=self.script_files_of(settings),
            name=self.app_name or self.task_id,
            uris=self.input_uris() + self.output_uris(),
            secrets=self.secret_values(),
            leases=self.output_uris(),
            before_write=lambda: remove_flags(self.output()),  # type: ignore[no-untyped-call]
            **callbacks,
        )

    def run(self) -> None:
        """Run the script (spark-submit, or a Connect server), then check every output exists."""
        settings = self.spark_settings()
        made = self.lineage()  # the inputs and script this run reads, recorded once it succeeds
        argv = self.app_options()
        result = follow_run(self, lambda cb: self.spark_runner(settings, **cb).run_script(argv))
        self.check_outputs(result)
        record_lineage([self], [made])

    def check_outputs(self, result: RunResult) -> None:
        """Raise MissingOutputError unless every output exists after a successful run."""
        outputs = flatten(self.output())  # type: ignore[no-untyped-call]
        missing = [spark_uri(t) for t in outputs if not t.exists()]
        if missing:
            raise MissingOutputError(
                f"{result.succeeded} but {len(missing)} output(s) of {self.task_id} do not "
                f"exist: {missing!r} (app id {result.app_id or 'unknown'}); make "
                f"{self.script!r} write every --output and its success flag (Spark's writers "
                "write _SUCCESS), and do not swallow errors in main()"
            )

    def script_files_of(self, settings: SparkSettings) -> tuple[Script, ...]:
        """Resolve and read ``script_files`` now, as the script is."""
        return tuple(resolve_script_files(self.script_files, settings.scripts_dir))

    def _script(self, settings: SparkSettings) -> Script:
        script = resolve_script(self.script, settings.scripts_dir)
        # The hash tells which version of an edited script a given run submitted.
        logger.info("%s: script %s (sha256 %s)", self.task_id, script.path, script.sha256[:12])
        return script


def make_runner(
    settings: SparkSettings,
    *,
    script: Script,
    name: str,
    uris: Sequence[str],
    script_files: Sequence[Script] = (),
    secrets: Sequence[str] = (),
    leases: Sequence[str] = (),
    before_write: Callable[[], None] | None = None,
    **callbacks: Any,
) -> Runner:
    """Map resolved settings and a script onto the runner of ``settings.mode``.

    ``uris``: the inputs and outputs the runs read and write; ``script_files``: the modules the
    script imports (:func:`~luigi_ufo.spark.submit.build.ship_script_files` in submit mode,
    loaded with the script in Connect mode);
    ``leases`` and ``before_write``: see :class:`~luigi_ufo.spark.run.Runner`; ``callbacks``:
    ``on_percent``, ``on_status``, ``on_tracking_url``.
    """
    options = {
        **runner_options(settings),
        "leases": leases,
        "before_write": before_write,
        **callbacks,
    }
    if settings.connect:
        spec = ConnectSpec(
            url=settings.connect_url,
            script=script,
            name=name,
            conf=session_conf(settings.conf),
            secrets=masked_values(settings, [os.environ], secrets),
            uris=tuple(uris),
            script_files=tuple(script_files),
        )
        return ConnectRunner(spec, **options)
    submit = build_spec(
        settings=settings,
        script=script,
        name=name,
        app_args=(),
        uses_s3=any_on_s3(uris),
        script_files=script_files,
        secrets=secrets,
    )
    return SparkSubmitRunner(submit, base_env=without_withheld(os.environ, submit.env), **options)


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


def spark_uri(target: Any) -> str:
    """Return the URI Spark should use for ``target`` (``s3://`` becomes ``s3a://``)."""
    uri = getattr(target, "spark_uri", None) or getattr(target, "path", None)
    if not isinstance(uri, str) or not uri:
        raise ConfigError(
            f"target {target!r} has neither .spark_uri nor .path, so its URI cannot be passed "
            "to the script; override app_options() to pass the arguments yourself"
        )
    return to_s3a(uri)


def _check_overrides(cls: type[ExternalSparkScriptTask]) -> None:
    # At class definition, so a misspelt or ill-typed override (or a credential that would
    # reach argv) fails at import, not mid-run.
    where = f"{cls.__name__}.spark_overrides"
    _refuse_setting_attributes(cls)
    refuse_credentials_in_argv(SparkSettings().override(cls.spark_overrides, where), where)


def _refuse_setting_attributes(cls: type[ExternalSparkScriptTask]) -> None:
    # A plain class attribute named like a setting (the form before spark_overrides) would be
    # ignored in silence; a luigi.Parameter of that name is the user's own.
    settings = settings_by_name(SparkSettings)
    found = [
        name
        for name, value in vars(cls).items()
        if name in settings
        and not isinstance(value, luigi.Parameter)
        and not callable(value)
        and not isinstance(value, (property, classmethod, staticmethod))
    ]
    if found:
        raise ConfigError(
            f"{cls.__name__}: class attribute(s) {', '.join(found)} are named like [spark_script] "
            f"settings but are not settings; write spark_overrides = "
            f"{{{', '.join(repr(n) + ': ...' for n in found)}}} instead"
        )
