"""Start a local Spark Connect server with the settings a task's spark-submit gets.

The server is ``spark-submit --class SparkConnectServer`` of the installed pyspark (>= 4.0, whose
wheel carries ``jars/spark-connect_2.13-<version>.jar``) against a master, with ``[spark_script]``
(jars, conf, memory) and, with ``s3=True``, the s3a settings and credentials derived from
``[s3_endpoint]`` exactly as for a submitted task (credentials through the environment or a
private properties file, never argv). :mod:`luigi_ufo.services.spark_connect` runs, records and
stops it.

Only its owner can use it: it requires a token (``SPARK_CONNECT_AUTHENTICATE_TOKEN`` if set, else
one generated at start), given to the JVM by environment and kept in a 0600 file of the private
runtime directory, where this user's clients find it (:mod:`.token`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from luigi_ufo.services.ports import free_port
from luigi_ufo.services.spark_connect import (
    DEFAULT_PORT,
    HOST,
    READY_TIMEOUT,
    SERVER_CLASS,
    ConnectServer,
    connect_jar,
    launch,
    refuse_running,
    server_conf,
)
from luigi_ufo.spark.connect.runner import require_connect_client
from luigi_ufo.spark.connect.token import TOKEN_ENV, new_token_file
from luigi_ufo.spark.scripts import Script
from luigi_ufo.spark.settings import SparkSettings, default_spark_submit
from luigi_ufo.spark.submit.build import build_spec
from luigi_ufo.spark.submit.properties import private_properties_file
from luigi_ufo.spark.submit.spec import build_argv, cluster_manager, format_argv, mask_argv

__all__ = ["start_server"]


def start_server(
    state_file: Path,
    *,
    settings: SparkSettings | None = None,
    host: str = HOST,
    port: int | None = DEFAULT_PORT,
    ui_port: int | None = None,
    s3: bool = False,
    timeout: float = READY_TIMEOUT,
    token: bool = True,
    cwd: Path | None = None,
) -> ConnectServer:
    """Start a Connect server, wait until it accepts sessions and record it in ``state_file``.

    ``settings`` default to ``[spark_script]`` (master, jars, conf, memory); ``port=None`` picks a
    free one; ``cwd``: the server's working directory (default: this process's). Refuses to start
    a second server for the same state file. ``token=False`` (a throwaway test server) generates
    no token: without ``SPARK_CONNECT_AUTHENTICATE_TOKEN`` in the environment, any local process
    can connect.
    """
    require_connect_client()
    refuse_running(state_file)
    settings = settings or SparkSettings.from_config()
    spark_submit = settings.spark_submit or default_spark_submit()
    home = Path(spark_submit).resolve().parent.parent
    port = port or free_port(host)
    conf = {**settings.conf, **server_conf(host=host, port=port, ui_port=ui_port)}
    env = dict(settings.env)
    if cluster_manager(settings.master) == "local":
        # Driver, block manager and web UI on the server's address too (loopback by default).
        env.setdefault("SPARK_LOCAL_IP", host)
    spec = build_spec(
        settings=dataclasses.replace(settings, conf=conf, env=env),
        script=Script(path=connect_jar(home), sha256=""),
        name="Spark Connect server (luigi-ufo)",
        app_args=(),
        uses_s3=s3,
    )
    spec = dataclasses.replace(spec, main_class=SERVER_CLASS)
    child_env = {**os.environ, **spec.env}
    secret_file = ""
    if token and not child_env.get(TOKEN_ENV):
        # By environment, never argv; clients of this user read the 0600 file.
        child_env[TOKEN_ENV], path = new_token_file(port)
        secret_file = str(path)
        spec = dataclasses.replace(spec, secrets=(*spec.secrets, child_env[TOKEN_ENV]))
    # The private properties file exists until the JVM has read it and is serving.
    with private_properties_file(spec, child_env) as ready_spec:
        argv = build_argv(ready_spec)
        return launch(
            state_file,
            argv,
            env=child_env,
            shown=format_argv(mask_argv(argv, spec.secrets)),
            master=settings.master,
            host=host,
            port=port,
            ui_port=ui_port,
            token=bool(child_env.get(TOKEN_ENV)),
            token_file=secret_file,
            cwd=cwd,
            timeout=timeout,
        )
