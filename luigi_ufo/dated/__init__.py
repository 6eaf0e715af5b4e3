"""Date-partitioned datasets with success flags, on a local directory or S3.

A partition ``<root>/<YYYY-MM-DD>/`` is complete only when its success flag exists; beside the
flag, a lineage record says what it was made from (:mod:`luigi_ufo.lineage`). Importing
this package needs no boto3: the S3 backend loads when an ``s3://`` root is first used.
"""

from __future__ import annotations

from luigi_ufo.dated.dataset import DEFAULT_FLAG, DatedDataset, Gaps
from luigi_ufo.dated.lake import lake_dataset, lake_root, lake_target
from luigi_ufo.dated.mixin import DatedTaskMixin
from luigi_ufo.dated.paths import (
    Root,
    parse_partition_name,
    parse_root,
    partition_name,
    partition_uri,
)
from luigi_ufo.dated.settings import LakeSettings
from luigi_ufo.dated.storage import LocalStorage, Storage
from luigi_ufo.dated.target import DatedTarget, S3DatedTarget
from luigi_ufo.dated.writer import PartitionWriter
from luigi_ufo.lineage import (
    Lineage,
    LineageMixin,
    LineageSettings,
    LocalFile,
    lineage_status,
    record_lineage,
)

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
    "S3DatedTarget",
    "Storage",
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
