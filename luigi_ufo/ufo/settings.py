"""Where the reference pipeline keeps its data: the ``[ufo]`` section and per-user defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from luigi_ufo.config import ufo
from luigi_ufo.errors import ConfigError

DATA_DIR_ENV = "LUIGI_UFO_DATA_DIR"


def data_dir() -> Path:
    """Return the per-user data directory: ``$LUIGI_UFO_DATA_DIR``, else the XDG data home.

    Root gets ``/var/lib/luigi-ufo``: the embedded PostgreSQL runs as an unprivileged user that
    cannot enter ``/root``.
    """
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    if os.geteuid() == 0:
        return Path("/var/lib/luigi-ufo")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "luigi-ufo"


@dataclass(frozen=True)
class UfoSettings:
    """Resolved ``[ufo]`` values."""

    lake: str
    encoding: str
    delimiter: str
    country_rule: str
    decode_errors: str
    top: int

    @classmethod
    def from_config(cls) -> UfoSettings:
        """Read ``[ufo]`` now; an unset lake is ``<data dir>/lake``."""
        section = ufo()  # type: ignore[no-untyped-call]
        lake = str(section.lake) if section.lake else str(data_dir() / "lake")
        if "://" not in lake:
            # Spark resolves relative paths against its own working directory: make it absolute.
            lake = os.path.abspath(os.path.expanduser(lake))
        if int(section.top) < 1:
            raise ConfigError(f"[ufo] top = {section.top!r} must be at least 1; set top = 10")
        return cls(
            lake=lake.rstrip("/"),
            encoding=str(section.encoding),
            delimiter=str(section.delimiter),
            country_rule=str(section.country_rule),
            decode_errors=str(section.decode_errors),
            top=int(section.top),
        )

    def dataset(self, name: str) -> str:
        """Return the root URI of dataset ``name`` (``raw``, ``by_state``, ...) in the lake."""
        return f"{self.lake}/ufo/{name}"
