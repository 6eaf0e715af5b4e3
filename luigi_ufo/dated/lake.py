"""Targets by dataset name under ``[lake] root`` (:mod:`luigi_ufo.dated.settings`)."""

from __future__ import annotations

import datetime
from typing import Any

from luigi_ufo.dated.dataset import DEFAULT_FLAG
from luigi_ufo.dated.settings import LakeSettings
from luigi_ufo.dated.target import DatedTarget
from luigi_ufo.errors import ConfigError
from luigi_ufo.uris import absolute


def lake_root() -> str | None:
    """Return the configured ``[lake] root`` (absolute, no trailing slash), or None if unset."""
    root = LakeSettings.from_config().root
    return absolute(root) if root else None


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
