"""The shared token of a Spark Connect server: never a setting, read from the environment.

``mode`` and ``connect_url`` are ``[spark_script]`` settings (:mod:`luigi_ufo.spark.settings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"  # noqa: S105 - a variable name, not a value


def connect_token(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the server's shared token from the environment, if one is set."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV)
    return str(value) if value else None
