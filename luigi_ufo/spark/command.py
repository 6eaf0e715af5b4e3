"""Pure submit spec -> ``spark-submit`` argv, validation and secret masking.

Nothing here starts a process or reads configuration: a :class:`SubmitSpec` is a value, and
:func:`build_argv` turns it into the exact list of strings the runner executes.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from luigi_ufo.errors import ConfigError

MASK = "***"
DEPLOY_MODES = ("client", "cluster")
WAIT_APP_COMPLETION = "spark.standalone.submit.waitAppCompletion"


@dataclass(frozen=True, kw_only=True)
class SparkOptions:
    """The spark-submit options a configuration and a submit spec share (keyword-only).

    The one list of them: :class:`~luigi_ufo.spark.settings.SparkSettings` and
    :class:`SubmitSpec` both extend it, and the task maps one onto the other field by field.
    """

    master: str = "local[*]"
    deploy_mode: str = "client"
    packages: tuple[str, ...] = ()
    jars: tuple[str, ...] = ()
    py_files: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    conf: Mapping[str, str] = field(default_factory=dict)
    driver_memory: str | None = None
    executor_memory: str | None = None
    driver_cores: int | None = None
    executor_cores: int | None = None
    total_executor_cores: int | None = None
    num_executors: int | None = None
    queue: str | None = None
    supervise: bool = False
    properties_file: str | None = None
    extra_args: tuple[str, ...] = ()
    # Environment of the spark-submit process (credentials travel here, never in argv).
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


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
        if value is not None and value < 1:
            raise ConfigError(f"{option}={value!r} must be a positive integer, or unset")
    for key in [*spec.conf, *spec.private_conf]:
        if not key.startswith("spark."):
            raise ConfigError(
                f"conf key {key!r} does not start with 'spark.' and spark-submit would ignore "
                "it; use the full property name (Hadoop settings as 'spark.hadoop.<name>')"
            )


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
    argv = [spec.spark_submit, "--master", spec.master, "--deploy-mode", spec.deploy_mode]
    pairs: list[tuple[str, str | None]] = [
        ("--name", spec.name),
        ("--class", spec.main_class),
        ("--packages", _join(spec.packages)),
        ("--jars", _join(spec.jars)),
        ("--py-files", _join(spec.py_files)),
        ("--files", _join(spec.files)),
        ("--driver-memory", spec.driver_memory),
        ("--executor-memory", spec.executor_memory),
        ("--driver-cores", _str(spec.driver_cores)),
        ("--executor-cores", _str(spec.executor_cores)),
        ("--total-executor-cores", _str(spec.total_executor_cores)),
        ("--num-executors", _str(spec.num_executors)),
        ("--queue", spec.queue),
        ("--properties-file", spec.properties_file),
    ]
    for flag, value in pairs:
        if value:
            argv += [flag, value]
    if spec.supervise:
        argv.append("--supervise")
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


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every secret value in ``text`` with ``***``."""
    # Longest first, so a secret containing another one is masked whole.
    for secret in sorted(_nonempty(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def mask_argv(argv: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Return ``argv`` with secret values masked in every element."""
    values = list(secrets)
    return [mask(arg, values) for arg in argv]


def format_argv(argv: Iterable[str]) -> str:
    """Render argv as one shell-quoted line for messages."""
    return shlex.join(list(argv))


def _nonempty(values: Iterable[str]) -> list[str]:
    return [v for v in values if v]


def _join(values: tuple[str, ...]) -> str | None:
    return ",".join(values) if values else None


def _str(value: int | None) -> str | None:
    return None if value is None else str(value)
