"""Where the reference pipeline keeps its data: the ``[ufo]`` section and per-user defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from luigi_ufo.config import config_section, read_section
from luigi_ufo.setting import check_fields, setting

DATA_DIR_ENV = "LUIGI_UFO_DATA_DIR"
SECTION = "ufo"


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


def _fraction(value: float) -> str | None:
    return (
        None if 0.0 <= value <= 1.0 else "from 0 to 1, e.g. 1.0 (fail only when all are rejected)"
    )


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "at least 1, e.g. 10"


@dataclass(frozen=True)
class UfoSettings:
    """Resolved ``[ufo]`` values (the reference pipeline's own section)."""

    lake: str = setting(
        "",
        "lake root, a directory or s3://bucket/prefix; default: [lake] root, else <data dir>/lake",
    )
    encoding: str = setting("utf-8", "export encoding, e.g. cp1252")
    delimiter: str = setting(",", "export delimiter: ',' or 'tab'")
    country_rule: str = setting(
        "us-or-blank",
        "Kaggle layout: which country values a US state code counts with",
        choices=("us-or-blank", "us", "any"),
    )
    decode_errors: str = setting(
        "strict",
        "strict: fail on undecodable bytes; replace: count them as rejected",
        choices=("strict", "replace"),
    )
    top: int = setting(10, "N of the top-N states", check=_at_least_one)
    max_rejected_fraction: float = setting(
        1.0,
        "fail, loading nothing, when more than this share of the records is rejected; "
        "1.0: only when all are",
        check=_fraction,
    )

    def __post_init__(self) -> None:
        check_fields(self, f"[{SECTION}]")

    @classmethod
    def from_config(cls) -> UfoSettings:
        """Read ``[ufo]`` now; an unset lake is ``[lake] root``, else ``<data dir>/lake``."""
        from luigi_ufo.dated.lake import lake_root, normalize_root

        values = read_section(SECTION)
        lake = values["lake"] or lake_root() or str(data_dir() / "lake")
        return cls(**{**values, "lake": normalize_root(lake)})

    def dataset(self, name: str) -> str:
        """Return the root URI of dataset ``name`` (``raw``, ``by_state``, ...) in the lake."""
        return f"{self.lake}/ufo/{name}"


#: ``[ufo]``: the luigi.Config section of UfoSettings.
ufo = config_section(SECTION, UfoSettings)
