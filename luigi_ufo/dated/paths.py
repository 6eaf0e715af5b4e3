"""Pure partition logic: parse a dataset root, map dates to partition keys and back."""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from typing import Literal

from luigi_ufo.errors import DatedTargetError, InvalidRootError
from luigi_ufo.uris import S3_SCHEMES, has_scheme, local_path

Scheme = Literal["s3", "local"]

# Strict ISO date, four-digit year: "2024-1-5" or "20240105" is not a partition name.
_NAME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# S3 bucket naming rules (lowercase, digits, dots, hyphens; 3-63 chars; alnum at both ends).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class Root:
    """A parsed dataset root: ``s3://bucket/prefix`` or an absolute local directory.

    ``prefix`` is the key prefix inside the bucket without leading or trailing slash ("" for a
    bucket root); for a local root ``bucket`` is "" and ``prefix`` is the absolute directory.
    """

    scheme: Scheme
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        """Return the canonical root URI without trailing slash."""
        if self.scheme == "s3":
            return f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return self.prefix

    @property
    def key_prefix(self) -> str:
        """Return the S3 key prefix of the dataset with trailing slash ("" for a bucket root)."""
        return f"{self.prefix}/" if self.prefix else ""


def parse_root(root: str) -> Root:
    """Parse ``root`` into a :class:`Root`; raise InvalidRootError when it is malformed."""
    if not isinstance(root, str) or not root.strip():
        raise InvalidRootError(
            f"dataset root {root!r} is empty or not a string; "
            "pass 's3://bucket/prefix' or a local directory path"
        )
    lowered = root.lower()
    for scheme in S3_SCHEMES:
        if lowered.startswith(scheme):
            return _parse_s3(root, root[len(scheme) :])
    if has_scheme(root) and not lowered.startswith("file:"):
        # s3:/x, gs://b, hdfs://... : a scheme we cannot serve must not become a local folder.
        raise InvalidRootError(
            f"dataset root {root!r} has an unsupported or malformed scheme; "
            "use 's3://bucket/prefix' (two slashes) or a local directory path"
        )
    path = local_path(root)
    if not path:
        raise InvalidRootError(f"dataset root {root!r} names no directory; give a directory path")
    return Root("local", "", os.path.abspath(os.path.expanduser(path)))


def _parse_s3(root: str, rest: str) -> Root:
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InvalidRootError(
            f"dataset root {root!r} has an empty bucket name; write 's3://bucket/prefix'"
        )
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise InvalidRootError(
            f"dataset root {root!r} has an invalid bucket name {bucket!r}; bucket names are 3-63 "
            "lowercase letters, digits, dots or hyphens"
        )
    parts = [p for p in prefix.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise InvalidRootError(
            f"dataset root {root!r} contains '.' or '..' segments; give the plain key prefix"
        )
    return Root("s3", bucket, "/".join(parts))


def partition_name(date: datetime.date) -> str:
    """Return the partition directory name of ``date`` (``YYYY-MM-DD``)."""
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def parse_partition_name(name: str) -> datetime.date | None:
    """Return the date a partition name denotes, or None (``2024-02-30``, ``2024-1-5``, ``x``)."""
    match = _NAME_RE.fullmatch(name)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def coerce_date(value: object) -> datetime.date:
    """Return ``value`` as a date (date, datetime or strict ``YYYY-MM-DD`` string)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        parsed = parse_partition_name(value.strip())
        if parsed is not None:
            return parsed
    raise DatedTargetError(
        f"partition date {value!r} is not a date; pass a datetime.date or 'YYYY-MM-DD'"
    )


def partition_rel(date: datetime.date) -> str:
    """Return the partition's path relative to the dataset root, with trailing slash."""
    return partition_name(date) + "/"


def partition_uri(root: Root, date: datetime.date) -> str:
    """Return the partition URI of ``date`` under ``root`` (trailing slash)."""
    return f"{root.uri}/{partition_rel(date)}"


def split_rel_key(rel: str) -> tuple[datetime.date, str] | None:
    """Split a key relative to the root into (date, rest-inside-partition), or None."""
    name, sep, rest = rel.partition("/")
    if not sep:
        return None
    date = parse_partition_name(name)
    return None if date is None else (date, rest)


def is_part_name(rel: str) -> bool:
    """Tell whether a path inside a partition is a data part (no ``_``/``.`` segment, no dir)."""
    segments = rel.split("/")
    return bool(segments[-1]) and not any(s.startswith(("_", ".")) or not s for s in segments)


#: A lineage record is the object ``_lineage.<stamp>.json`` inside a partition, beside its flag
#: (see :mod:`luigi_ufo.lineage`): a ``_`` name, so no reader takes it for data.
LINEAGE_PREFIX = "_lineage."
LINEAGE_SUFFIX = ".json"


def lineage_name(stamp: str) -> str:
    """Return the file name of the lineage record ``stamp`` inside a partition."""
    return f"{LINEAGE_PREFIX}{stamp}{LINEAGE_SUFFIX}"


def parse_lineage_name(name: str) -> str | None:
    """Return the stamp of the lineage record called ``name``, or None if it is not one."""
    if name.startswith(LINEAGE_PREFIX) and name.endswith(LINEAGE_SUFFIX) and "/" not in name:
        stamp = name[len(LINEAGE_PREFIX) : -len(LINEAGE_SUFFIX)]
        return stamp or None
    return None
