"""Embedded defaults for ``luigi-ufo run``: what to start when luigi.cfg configures nothing."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import luigi.configuration

from luigi_ufo.errors import JavaNotFoundError
from luigi_ufo.ufo.settings import data_dir

if TYPE_CHECKING:
    from luigi_ufo.postgres.shared import ServerStatus, SharedServer

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


def per_user_server(say: Callable[[str], None] = lambda _: None) -> SharedServer:
    """Return the per-user PostgreSQL (``<data dir>/postgres``) that ``luigi-ufo db`` manages."""
    from luigi_ufo.postgres.shared import SharedServer

    return SharedServer(data_dir() / "postgres", say=say)


@contextlib.contextmanager
def embedded_postgres(
    set_option: Callable[[str, str, str], None], say: Callable[[str], None] = lambda _: None
) -> Iterator[ServerStatus | None]:
    """Use the per-user PostgreSQL unless ``[postgres_topn]`` is configured; yield its status.

    The server is shared: a running one (from ``luigi-ufo db start``, a concurrent run, or a
    killed run) is used as it is; one this block starts is stopped when the last user leaves.
    The data directory persists, so results stay queryable between runs.
    """
    # [ufo_postgres] is the section's former name, still read.
    if configured("postgres_topn", POSTGRES_KEYS) or configured("ufo_postgres", POSTGRES_KEYS):
        yield None
        return
    with per_user_server(say).use() as status:
        # luigi's configuration parser reads '%' as interpolation (a socket path may have one).
        set_option("postgres_topn", "dsn", status.url.replace("%", "%%"))
        yield status
