"""Date-partitioned datasets with success flags, on a local directory or S3.

A partition ``<root>/<YYYY-MM-DD>/`` is complete only when its success flag exists; beside the
flag, a lineage record says what it was made from (:mod:`luigi_ufo.dated.lineage`). Importing
this package needs no boto3: the S3 backend loads when an ``s3://`` root is first used.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any

from luigi_ufo.dated.dataset import DEFAULT_FLAG, DatedDataset, Gaps
from luigi_ufo.dated.lake import LakeSettings, lake_dataset, lake_root, lake_target
from luigi_ufo.dated.lineage import (
    Lineage,
    LineageMixin,
    LineageSettings,
    LocalFile,
    lineage_status,
    record_lineage,
)
from luigi_ufo.dated.mixin import DatedTaskMixin
from luigi_ufo.dated.paths import (
    Root,
    parse_partition_name,
    parse_root,
    partition_name,
    partition_uri,
)
from luigi_ufo.dated.storage import LocalStorage, Storage
from luigi_ufo.dated.target import DatedTarget
from luigi_ufo.dated.writer import PartitionWriter

__all__ = [
    "DEFAULT_FLAG",
    "DatedDataset",
    "DatedTarget",
    "DatedTaskMixin",
    "Gaps",
    "LakeSettings",
    "Lineage",
    "LineageMixin",
    "LineageSettings",
    "LocalFile",
    "LocalStorage",
    "PartitionWriter",
    "Root",
    "Storage",
    "dated_target",
    "lake_dataset",
    "lake_root",
    "lake_target",
    "lineage_status",
    "parse_partition_name",
    "parse_root",
    "partition_name",
    "partition_uri",
    "record_lineage",
]


def dated_target(
    root: str,
    date: datetime.date | str,
    *,
    flag: str = DEFAULT_FLAG,
    client: Any = None,
) -> DatedTarget:
    """Deprecated: ``DatedTarget(root, date)`` itself gives an S3DatedTarget for ``s3://``."""
    warnings.warn(
        "luigi_ufo.dated.dated_target() is deprecated; call DatedTarget(root, date), which "
        "gives an S3DatedTarget for s3:// roots",
        DeprecationWarning,
        stacklevel=2,
    )
    return DatedTarget(root, date, flag=flag, client=client)
