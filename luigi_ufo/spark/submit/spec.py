"""Pure submit spec -> ``spark-submit`` argv, validation and secret masking.

Nothing here starts a process or reads configuration: a :class:`SubmitSpec` is a value, and
:func:`build_argv` turns it into the exact list of strings the runner executes.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from luigi_ufo.errors import ConfigError
from luigi_ufo.secrets import MASK, hint_for, mask, mask_argv, refuse_credentials
from luigi_ufo.settings.fields import check_fields, setting, settings_of

__all__ = [
    "MASK",
    "SparkOptions",
    "SubmitSpec",
    "build_argv",
    "check_master",
    "cluster_manager",
    "credential_route",
    "effective_conf",
    "format_argv",
    "kill_argv",
    "mask",
    "mask_argv",
    "refuse_credentials_in_argv",
    "validate",
]
DEPLOY_MODES = ("client", "cluster")
WAIT_APP_COMPLETION = "spark.standalone.submit.waitAppCompletion"


_MASTER = re.compile(
    r"local(\[(\d+|\*)(,\d+)?\])?"
    r"|local-cluster\[\d+,\d+,\d+\]"
    r"|spark://[^\s:,/]+:\d+(,[^\s:,/]+:\d+)*"
    r"|yarn"
    r"|k8s://\S+"
    r"|mesos://\S+"
)
MASTER_FORMS = (
    "a Spark master URL: local, local[N], local[*], local[N,F], spark://host:port[,host:port], "
    "yarn or k8s://https://host:port"
)


def check_master(master: str) -> str | None:
    """Return what is wrong with a ``--master`` URL, or None (checked before any JVM starts)."""
    if _MASTER.fullmatch(master):
        return None
    if master.startswith("sc://"):
        return f"{MASTER_FORMS} (sc:// is a Spark Connect URL, not a master)"
    return MASTER_FORMS


def _positive(value: int) -> str | None:
    return None if value >= 1 else "a positive whole number, or unset"


def _no_comma(paths: tuple[str, ...]) -> str | None:
    # spark-submit splits these lists at every comma and has no way to escape one.
    bad = next((p for p in paths if "," in p), None)
    if bad is None:
        return None
    return (
        f"paths without a comma: spark-submit joins this list with commas and splits it at "
        f"each one, with no escaping, so {bad!r} would reach it as {bad.count(',') + 1} paths; "
        "rename the file (or its directory), or link it from a path without one (ln -s)"
    )


@dataclass(frozen=True, kw_only=True)
class SparkOptions:
    """The spark-submit options a configuration and a submit spec share (keyword-only).

    The one declaration of them, each with its flag: :class:`~luigi_ufo.spark.settings.
    SparkSettings` and :class:`SubmitSpec` both extend it, and :func:`build_argv` maps every
    field with a flag onto argv.
    """

    master: str = setting(
        "local[*]",
        "Spark master URL (local[N], spark://h:p, yarn, k8s://...)",
        flag="--master",
        check=check_master,
    )
    deploy_mode: str = setting(
        "client", "where the driver runs", flag="--deploy-mode", choices=DEPLOY_MODES
    )
    packages: tuple[str, ...] = setting((), "Maven coordinates", flag="--packages")
    jars: tuple[str, ...] = setting(
        (), "jars for driver and executors", flag="--jars", check=_no_comma
    )
    py_files: tuple[str, ...] = setting(
        (), ".py/.zip/.egg files", flag="--py-files", check=_no_comma
    )
    files: tuple[str, ...] = setting(
        (), "files for executors' working dirs", flag="--files", check=_no_comma
    )
    conf: Mapping[str, str] = setting(
        {}, "Spark properties, merged key by key with a task's", merge=True
    )
    driver_memory: str | None = setting(None, "e.g. 2g", flag="--driver-memory")
    executor_memory: str | None = setting(None, "e.g. 4g", flag="--executor-memory")
    driver_cores: int | None = setting(
        None, "cluster deploy mode", flag="--driver-cores", check=_positive
    )
    executor_cores: int | None = setting(
        None, "per executor", flag="--executor-cores", check=_positive
    )
    total_executor_cores: int | None = setting(
        None, "standalone/Mesos", flag="--total-executor-cores", check=_positive
    )
    num_executors: int | None = setting(None, "YARN/k8s", flag="--num-executors", check=_positive)
    queue: str | None = setting(None, "YARN queue", flag="--queue")
    supervise: bool = setting(
        False, "restart the driver on failure (standalone cluster mode)", flag="--supervise"
    )
    properties_file: str | None = setting(
        None,
        "private (0600) spark-submit properties file, e.g. for secrets",
        flag="--properties-file",
    )
    extra_args: tuple[str, ...] = setting((), "raw spark-submit arguments, before the script")
    # Environment of the spark-submit process (credentials travel here, never in argv).
    env: Mapping[str, str] = setting(
        {}, "spark-submit's environment, merged key by key with a task's", merge=True, repr=False
    )


@dataclass(frozen=True)
class SubmitSpec(SparkOptions):
    """Everything ``spark-submit`` needs for one application, independent of Luigi."""

    app: str
    app_args: tuple[str, ...] = ()
    spark_submit: str = "spark-submit"
    name: str | None = None
    main_class: str | None = None
    # Spark properties holding secrets: the runner writes them to a private temporary
    # properties file (merged with properties_file), never to argv.
    private_conf: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Values that must never be shown: masked wherever they occur in argv, logs and errors.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def is_python(self) -> bool:
        """Whether the application is a Python script (not a jar)."""
        return self.app.endswith(".py")

    @property
    def cluster_manager(self) -> str:
        """Return ``local``, ``standalone``, ``yarn``, ``k8s``, ``mesos`` or ``other``."""
        return cluster_manager(self.master)


def cluster_manager(master: str) -> str:
    """Classify a ``--master`` URL by the cluster manager it names."""
    if master == "local" or master.startswith("local["):
        return "local"
    if master.startswith("spark://"):
        return "standalone"
    if master == "yarn":
        return "yarn"
    if master.startswith("k8s://"):
        return "k8s"
    if master.startswith("mesos://"):
        return "mesos"
    return "other"


def credential_route(master: str, *, uses_s3: bool) -> str:
    """Return how S3 credentials reach Spark: ``none``, ``env`` or ``properties``.

    A local master runs driver and executors under spark-submit, so they inherit its
    environment; executors on any cluster do not, so they get Hadoop properties from a private
    properties file (shipped to them in the application's conf).
    """
    if not uses_s3:
        return "none"
    return "env" if cluster_manager(master) == "local" else "properties"


def validate(spec: SubmitSpec) -> None:
    """Refuse a spec that spark-submit would reject or that would leak a secret."""
    if not spec.app:
        raise ConfigError("SubmitSpec.app is empty; set it to the script or jar to submit")
    if spec.deploy_mode not in DEPLOY_MODES:
        raise ConfigError(
            f"deploy mode {spec.deploy_mode!r} is not one of {DEPLOY_MODES!r}; use 'client' or "
            "'cluster'"
        )
    manager = spec.cluster_manager
    cluster = spec.deploy_mode == "cluster"
    if cluster and manager == "local":
        raise ConfigError(
            f"deploy mode 'cluster' is not possible with master {spec.master!r}; use "
            "deploy_mode='client' for local masters"
        )
    if cluster and manager == "standalone" and spec.is_python:
        raise ConfigError(
            f"Python application {spec.app!r} cannot run in cluster deploy mode on standalone "
            f"master {spec.master!r} (spark-submit refuses it); use deploy_mode='client'"
        )
    if spec.is_python and spec.main_class:
        raise ConfigError(
            f"main_class {spec.main_class!r} is set for Python application {spec.app!r}; "
            "unset main_class (it is for jar applications)"
        )
    for option in ("driver_cores", "executor_cores", "total_executor_cores", "num_executors"):
        value = getattr(spec, option)
        if value is not None and _positive(value):
            raise ConfigError(f"{option}={value!r} must be a positive integer, or unset")
    for key in [*spec.conf, *spec.private_conf]:
        if not key.startswith("spark."):
            raise ConfigError(
                f"conf key {key!r} does not start with 'spark.' and spark-submit would ignore "
                "it; use the full property name (Hadoop settings as 'spark.hadoop.<name>')"
            )
    # The rest of each setting's declared checks (a spec may be built without SparkSettings).
    check_fields(spec, "SubmitSpec")
    refuse_credentials_in_argv(spec, "the spark-submit command")


def refuse_credentials_in_argv(options: SparkOptions, where: str) -> None:
    """Raise ConfigError if an option that reaches spark-submit's argv holds a credential.

    ``env`` is not argv: credentials travel there (and are masked). A credential Spark needs
    belongs in a private properties file (``properties_file``, or ``private_conf``).
    """
    hint = hint_for("spark_script", "conf")
    for option in settings_of(SparkOptions):
        if option.name != "env":
            refuse_credentials(f"{where}: {option.name}", getattr(options, option.name), hint)
    if isinstance(options, SubmitSpec):
        for name in ("app", "name", "main_class"):
            refuse_credentials(f"{where}: {name}", getattr(options, name), hint)
        refuse_credentials(f"{where}: app_args", options.app_args, hint, names=False)


def effective_conf(spec: SubmitSpec) -> dict[str, str]:
    """Return the ``--conf`` properties actually passed, including forced ones."""
    conf = {str(k): str(v) for k, v in spec.conf.items()}
    if spec.cluster_manager == "standalone" and spec.deploy_mode == "cluster":
        # Without it spark-submit returns as soon as the driver is accepted, so the task would
        # report success (or nothing at all) long before the application finished.
        conf[WAIT_APP_COMPLETION] = "true"
    return conf


def build_argv(spec: SubmitSpec) -> list[str]:
    """Validate ``spec`` and return the full ``spark-submit`` argv."""
    validate(spec)
    if spec.private_conf:
        # Silently dropping them would run the application without its credentials.
        raise ConfigError(
            f"spec has {len(spec.private_conf)} private_conf propert(ies) "
            f"{sorted(spec.private_conf)!r} that argv must not carry; run it with "
            "SparkSubmitRunner, which writes them to a private properties file"
        )
    return _argv(spec)


def _argv(spec: SubmitSpec) -> list[str]:
    argv = [spec.spark_submit]
    for option in settings_of(SparkOptions):
        value = getattr(spec, option.name)
        if option.flag is None or value in (None, (), False, ""):
            continue
        if value is True:
            argv.append(option.flag)
        else:
            argv += [option.flag, ",".join(value) if isinstance(value, tuple) else str(value)]
    for flag, name in (("--name", spec.name), ("--class", spec.main_class)):
        if name:
            argv += [flag, name]
    for key, value in sorted(effective_conf(spec).items()):
        # One argv element per property: values containing '=' or spaces survive intact.
        argv += ["--conf", f"{key}={value}"]
    argv += list(spec.extra_args)
    argv.append(spec.app)
    argv += list(spec.app_args)
    return argv


def kill_argv(spec: SubmitSpec, *, driver_id: str | None, app_id: str | None) -> list[str] | None:
    """Return the command that kills the application where it runs, if it runs remotely."""
    if spec.deploy_mode == "cluster" and spec.cluster_manager in ("standalone", "k8s"):
        if driver_id:
            return [spec.spark_submit, "--master", spec.master, "--kill", driver_id]
        return None
    if spec.deploy_mode == "cluster" and spec.cluster_manager == "yarn" and app_id:
        return ["yarn", "application", "-kill", app_id]
    # Client mode: the driver is the local process, killing it ends the application.
    return None


def format_argv(argv: Iterable[str]) -> str:
    """Render argv as one shell-quoted line for messages."""
    return shlex.join(list(argv))
