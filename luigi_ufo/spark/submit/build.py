"""Map resolved ``[spark_script]`` settings and a script onto a :class:`SubmitSpec`.

The one place that derives what spark-submit gets from the settings: the shared options as they
are, the s3a conf and the route of S3 credentials (environment, or a private properties file on
a cluster), the driver's and executors' Python, the route of a task's ``script_files``, and
every value to mask.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence

from luigi_ufo.errors import ConfigError
from luigi_ufo.secrets import is_credential_name
from luigi_ufo.spark.run import masked_values
from luigi_ufo.spark.scripts import Script
from luigi_ufo.spark.settings import SECTION, SparkSettings, default_spark_submit
from luigi_ufo.spark.submit.spec import (
    SparkOptions,
    SubmitSpec,
    cluster_manager,
    credential_route,
)

#: Shared options SubmitSpec takes from the settings as they are (build_spec derives the
#: others), so a new SparkOptions field reaches spark-submit with no edit here.
PASSED_THROUGH = tuple(
    f.name
    for f in dataclasses.fields(SparkOptions)
    if f.name not in ("conf", "env", "properties_file")
)


def build_spec(
    *,
    settings: SparkSettings,
    script: Script,
    name: str,
    app_args: Sequence[str],
    uses_s3: bool,
    script_files: Sequence[Script] = (),
    secrets: Sequence[str] = (),
    base_env: Mapping[str, str] | None = None,
) -> SubmitSpec:
    """Map resolved settings and a script onto a :class:`SubmitSpec`.

    ``uses_s3``: the application reads or writes S3 (it then gets the s3a settings);
    ``script_files``: modules the script imports (see :func:`ship_script_files`); ``secrets``:
    more values to mask; ``base_env``: the worker's environment (default: this process's),
    whose credentials are masked too.
    """
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
    options = {option: getattr(settings, option) for option in PASSED_THROUGH}
    options["py_files"], env = ship_script_files(settings, script_files, env, worker_env)
    # The worker's values too: a withheld credential may still be echoed by other means.
    found = [v for k, v in private.items() if is_credential_name(k)]
    return SubmitSpec(
        app=str(script.path),
        app_args=tuple(app_args),
        name=name,
        **options,
        spark_submit=settings.spark_submit or default_spark_submit(),
        conf=conf,
        properties_file=_private_file(settings.properties_file),
        env=env,
        private_conf=private,
        secrets=masked_values(settings, [worker_env, env], [*found, *secrets]),
    )


def ship_script_files(
    settings: SparkSettings,
    files: Sequence[Script],
    env: Mapping[str, str],
    worker_env: Mapping[str, str],
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Return the ``--py-files`` list and the environment that get ``files`` to Spark's Python.

    On a cluster they follow ``[spark_script] py_files`` in ``--py-files``. With a local master
    the driver and the Python workers run on this machine under spark-submit, so their
    directories go first on ``PYTHONPATH`` instead (pyspark keeps it for both): the same
    imports without ``--py-files``, which costs every submit about 0.7 s of JVM start-up
    (Hadoop's file system, loaded to resolve and copy the files) on two cores.
    """
    env = dict(env)
    if not files:
        return settings.py_files, env
    if cluster_manager(settings.master) != "local":
        return (*settings.py_files, *(str(f.path) for f in files)), env
    given = env.get("PYTHONPATH", worker_env.get("PYTHONPATH", ""))
    dirs = dict.fromkeys(str(f.path.parent) for f in files)  # in order, once each
    env["PYTHONPATH"] = os.pathsep.join([*dirs, *filter(None, given.split(os.pathsep))])
    return settings.py_files, env


def _private_file(path: str | None) -> str | None:
    # A properties file may hold secrets (it is the alternative to the environment).
    if path is None:
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(
            f"[{SECTION}] properties_file {path!r} cannot be read ({exc.strerror}); fix the path"
        ) from None
    if mode & 0o077:
        raise ConfigError(
            f"[{SECTION}] properties_file {path!r} is readable by others (mode "
            f"{mode & 0o777:o}); run `chmod 600 {path}`"
        )
    return path
