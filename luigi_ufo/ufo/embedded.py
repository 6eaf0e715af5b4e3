"""Embedded defaults for ``luigi-ufo run``: what to start when luigi.cfg configures nothing."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import luigi.configuration

from luigi_ufo.errors import JavaNotFoundError
from luigi_ufo.ufo.settings import data_dir

POSTGRES_KEYS = ("dsn", "host", "port", "database", "user")
# Luigi's parser also finds the dashed spellings (default-scheduler-url) under these names.
SCHEDULER_KEYS = ("default_scheduler_url", "scheduler_url", "default_scheduler_host")


def find_java() -> str:
    """Return the java executable spark-submit will use, or raise JavaNotFoundError."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if os.access(java, os.X_OK):
            return str(java)
        raise JavaNotFoundError(
            f"JAVA_HOME={home!r} has no bin/java; point JAVA_HOME at a Java 17 runtime "
            "or unset it to use java from PATH"
        )
    found = shutil.which("java")
    if found is None:
        raise JavaNotFoundError(
            "java was not found on PATH and JAVA_HOME is unset; Spark needs Java 17: install it "
            "(e.g. apt-get install openjdk-17-jre-headless, brew install openjdk@17) or set "
            "JAVA_HOME"
        )
    return found


def configured(section: str, keys: tuple[str, ...]) -> bool:
    """Tell whether luigi's configuration sets any of ``keys`` in ``section``."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    return any(config.has_option(section, key) for key in keys)


def use_local_scheduler() -> bool:
    """Tell whether to use Luigi's local scheduler (no central scheduler configured)."""
    return not configured("core", SCHEDULER_KEYS)


@contextlib.contextmanager
def embedded_postgres(set_option: Callable[[str, str, str], None]) -> Iterator[str | None]:
    """Start the per-user PostgreSQL unless ``[ufo_postgres]`` is configured; yield its DSN.

    The data directory (``<data dir>/postgres``) persists, so results stay queryable between
    runs; the server runs only while the block does.
    """
    if configured("ufo_postgres", POSTGRES_KEYS):
        yield None
        return
    from luigi_ufo.postgres.server import PostgresServer

    server = PostgresServer(base_dir=data_dir() / "postgres")
    server.start()
    try:
        set_option("ufo_postgres", "dsn", server.dsn)
        yield server.dsn
    finally:
        server.stop()
