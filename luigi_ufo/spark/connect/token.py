"""The token of a Spark Connect server: never a setting; the environment, else a private file.

``mode`` and ``connect_url`` are ``[spark_script]`` settings (:mod:`luigi_ufo.spark.settings`).
A server ``luigi-ufo connect start`` (or ``dev --connect``) started on this host has a generated
token in a 0600 file of the private runtime directory, named after its port; a client of the same
user connecting to a loopback URL on that port reads it, so the token is in no configuration
file, argv or environment listing, and no other local account can read it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from luigi_ufo.paths import runtime_dir
from luigi_ufo.secrets import TOKEN_ENV

__all__ = [
    "TOKEN_ENV",
    "connect_token",
    "local_tokens",
    "new_token_file",
    "read_token_file",
    "token_file",
    "url_with_token",
]

_PREFIX = "connect-token-"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def token_file(port: int) -> Path:
    """Return the token file of this user's local Connect server on ``port``."""
    return runtime_dir() / f"{_PREFIX}{port}"


def new_token_file(port: int) -> tuple[str, Path]:
    """Generate a token for a server on ``port``; write it to its 0600 file; return both."""
    token = secrets.token_urlsafe(32)
    path = token_file(port)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    tmp.replace(path)
    return token, path


def read_token_file(path: Path) -> str | None:
    """Return the token in ``path`` if it is a private file of this user, else None."""
    with contextlib.suppress(OSError):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
            return path.read_text(encoding="utf-8").strip() or None
    return None


def connect_token(url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the token to send to ``url``: ``TOKEN_ENV``, else a local server's token file."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV)
    if value:
        return str(value)
    if url is None:
        return None
    parts = urlsplit(url)
    with contextlib.suppress(ValueError):
        if parts.hostname in _LOOPBACK and parts.port is not None:
            return read_token_file(token_file(parts.port))
    return None


def url_with_token(url: str) -> str:
    """Return ``url`` with the token pyspark must send (only in memory, never shown or logged).

    pyspark reads ``TOKEN_ENV`` itself; a token from a local server's file is added as
    ``;token=``.
    """
    if os.environ.get(TOKEN_ENV):
        return url
    token = connect_token(url)
    if token is None:
        return url
    # Without TLS pyspark sends a token only to the name localhost (a local channel).
    parts = urlsplit(url)
    if parts.hostname in _LOOPBACK and parts.port is not None:
        url = f"sc://localhost:{parts.port}{url[len(parts.scheme) + 3 + len(parts.netloc) :]}"
    return f"{url};token={token}" if ";" in url else f"{url.rstrip('/')}/;token={token}"


def local_tokens() -> list[str]:
    """Return the tokens of this user's local Connect servers (to mask them in any mode)."""
    try:
        files = list(runtime_dir().glob(f"{_PREFIX}*"))
    except (OSError, ValueError):
        return []
    return [t for t in (read_token_file(f) for f in files) if t]
