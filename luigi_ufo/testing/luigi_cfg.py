"""A luigi configuration per test: a project's own luigi.cfg applies only where a test asks.

Luigi reads its configuration once per process (``luigi.cfg`` in the working directory,
``LUIGI_CONFIG_PATH``, ``/etc/luigi``) into a singleton. A test that uses the plugin's fixtures
runs with a fresh, empty one instead (Luigi's defaults, plus what the test sets with the
``luigi_config`` fixture), so a developer's ``[spark_script] mode = connect`` or central scheduler
never reaches it. A test marked ``@pytest.mark.luigi_project_config`` keeps the project's files.
(The plugin applies it where Luigi is imported before the test runs, as a test module importing
its tasks does, or the test uses ``luigi_config``; it never imports Luigi itself.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

__all__ = ["MARKER", "PLUGIN_FIXTURES", "isolated_luigi_config"]

#: The marker by which a test reads the project's own luigi configuration files.
MARKER = "luigi_project_config"
#: The fixtures whose tests get a configuration of their own.
PLUGIN_FIXTURES = frozenset(
    {
        "aws_credentials",
        "luigi_config",
        "luigid",
        "postgres_dsn",
        "postgres_schema",
        "s3_bucket",
        "s3_endpoint",
        "s3a_jars",
        "spark_connect",
        "spark_local_master",
        "spark_master",
    }
)


@contextlib.contextmanager
def isolated_luigi_config(paths: Sequence[str] = ()) -> Iterator[None]:
    """Give luigi a configuration read from ``paths`` alone (none: its defaults) in the block.

    The parser luigi uses (``LUIGI_CONFIG_PARSER``, cfg by default) gets a fresh instance that
    ``luigi.configuration.get_config()`` returns until the block ends; then the previous one,
    untouched, is back.
    """
    from luigi.configuration import LuigiConfigParser, LuigiTomlParser

    parser = (
        LuigiTomlParser if os.environ.get("LUIGI_CONFIG_PARSER") == "toml" else LuigiConfigParser
    )
    saved = parser._instance
    fresh = parser()
    fresh.read(list(paths))
    parser._instance = fresh  # type: ignore[assignment]  # luigi types it as None
    try:
        yield
    finally:
        parser._instance = saved
