"""URI kinds, once: which URIs are on S3, how Spark spells them, which name a local path."""

from __future__ import annotations

import os
import re

#: URI schemes of S3 (boto3 and Luigi use s3://, Hadoop s3a://, old Hadoop s3n://).
S3_SCHEMES = ("s3://", "s3a://", "s3n://")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]+:")


def has_scheme(uri: str) -> bool:
    """Tell whether ``uri`` starts with a scheme (``s3:``, ``hdfs:``, ``file:``, ...)."""
    return _SCHEME.match(uri) is not None


def is_s3_uri(uri: str) -> bool:
    """Tell whether ``uri`` is on S3 (any of :data:`S3_SCHEMES`, any case)."""
    return uri.lower().startswith(S3_SCHEMES)


def to_s3a(uri: str) -> str:
    """Return ``uri`` as Spark's s3a reads it: ``s3://`` and ``s3n://`` become ``s3a://``."""
    if is_s3_uri(uri):
        return "s3a://" + uri.split("://", 1)[1]
    return uri


def local_path(uri: str) -> str | None:
    """Return the file-system path ``uri`` names, or None if it has another scheme.

    A plain path (relative or absolute) and ``file:`` / ``file://`` URIs are local; ``s3://``,
    ``hdfs://``, ``gs://`` and the like are not.
    """
    lowered = uri.lower()
    if lowered.startswith("file://"):
        return uri[len("file://") :] or None
    if lowered.startswith("file:"):
        return uri[len("file:") :] or None
    if has_scheme(uri):
        return None
    return uri or None


def absolute(uri: str) -> str:
    """Return ``uri`` without trailing slash; a plain path absolute (``~`` expanded), as Spark
    resolves a relative one against its own working directory."""
    if "://" not in uri:
        uri = os.path.abspath(os.path.expanduser(uri))
    return uri.rstrip("/") or "/"
