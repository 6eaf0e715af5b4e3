"""The token of a Spark Connect server: never a setting; the environment, else a private file.

``mode`` and ``connect_url`` are ``[spark_script]`` settings (:mod:`luigi_ufo.spark.settings`).
A server ``luigi-ufo connect start`` started has a generated token in a 0600 file beside its state
file; clients of the same user read it when they connect to that server's URL, so the token is in
no configuration file, argv or environment listing.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from luigi_ufo.secrets import TOKEN_ENV

__all__ = ["TOKEN_ENV", "connect_token", "local_token", "read_token_file"]


def connect_token(url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the token to send to ``url``: ``TOKEN_ENV``, else the local server's if it is
    the server at ``url``."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV)
    if value:
        return str(value)
    if url is None:
        return None
    found = _local_server()
    if found is None or _address(found[0]) != _address(url):
        return None
    return read_token_file(found[1])


def local_token() -> str | None:
    """Return the token of the user's local Connect server, whatever URL a task uses."""
    found = _local_server()
    return None if found is None else read_token_file(found[1])


def read_token_file(path: Path) -> str | None:
    """Return the token in ``path`` if it is a private file of this user, else None."""
    with contextlib.suppress(OSError):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
            return path.read_text(encoding="utf-8").strip() or None
    return None


def _local_server() -> tuple[str, Path] | None:
    from luigi_ufo.spark.connect_cli import default_state_file

    state_file = default_state_file()
    try:
        doc = json.loads(state_file.read_text(encoding="utf-8"))
        return str(doc["url"]), Path(doc["token_file"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _address(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    # The server binds loopback; its URL says localhost (pyspark sends a token only there).
    if host in ("localhost", "127.0.0.1", "::1"):
        host = "localhost"
    try:
        return host, parts.port
    except ValueError:
        return host, None
