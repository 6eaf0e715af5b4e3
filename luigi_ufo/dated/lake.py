"""``[lake] root``: where a project's dated datasets live, and targets under it by name."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

from luigi_ufo.config import config_section, read_section
from luigi_ufo.dated.dataset import DEFAULT_FLAG
from luigi_ufo.dated.target import DatedTarget
from luigi_ufo.errors import ConfigError
from luigi_ufo.setting import setting

SECTION = "lake"


@dataclass(frozen=True)
class LakeSettings:
    """The ``[lake]`` section."""

    root: str | None = setting(
        None, "root of the dated datasets: a directory or s3://bucket/prefix"
    )

    @classmethod
    def from_config(cls) -> LakeSettings:
        """Read ``[lake]`` now (command line, luigi.cfg / LUIGI_CONFIG_PATH)."""
        return cls(**read_section(SECTION))


#: ``[lake]``: the luigi.Config section of LakeSettings.
lake = config_section(SECTION, LakeSettings)


def normalize_root(root: str) -> str:
    """Return ``root`` without trailing slash; a local one absolute (Spark resolves relative
    paths against its own working directory)."""
    if "://" not in root:
        root = os.path.abspath(os.path.expanduser(root))
    return root.rstrip("/") or "/"


def lake_root() -> str | None:
    """Return the configured ``[lake] root``, normalised, or None if unset."""
    root = LakeSettings.from_config().root
    return normalize_root(root) if root else None


def lake_dataset(name: str) -> str:
    """Return the root URI of dataset ``name`` under ``[lake] root``."""
    root = lake_root()
    if root is None:
        raise ConfigError(
            f"dataset {name!r} is relative to [lake] root, which is unset; add to luigi.cfg:\n"
            "[lake]\nroot = /data/lake   (or s3://bucket/prefix)"
        )
    name = name.strip("/")
    if not name:
        raise ConfigError("the dataset name is empty; give e.g. lake_target('clicks', date)")
    return f"{root.rstrip('/')}/{name}"


def lake_target(
    dataset: str, date: datetime.date | str, *, flag: str = DEFAULT_FLAG, client: Any = None
) -> DatedTarget:
    """Return the dated target of ``dataset`` for ``date`` under ``[lake] root``.

    An ``s3://`` lake gives an :class:`~luigi_ufo.s3.S3DatedTarget`, a directory a
    :class:`DatedTarget`.

    Example::

        def output(self):
            return lake_target("clicks", self.date)   # <[lake] root>/clicks/<date>/
    """
    return DatedTarget(lake_dataset(dataset), date, flag=flag, client=client)
