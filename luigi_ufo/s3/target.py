"""S3DatedTarget: a dated partition under an ``s3://`` root."""

from __future__ import annotations

import datetime
from typing import Any

from luigi_ufo.dated.dataset import DEFAULT_FLAG
from luigi_ufo.dated.paths import parse_root
from luigi_ufo.dated.target import DatedTarget
from luigi_ufo.errors import InvalidRootError


class S3DatedTarget(DatedTarget):
    """The partition ``s3://bucket/prefix/<YYYY-MM-DD>/``; ``exists()`` is one HEAD of the flag.

    Args:
        root: ``s3://bucket/prefix`` (``s3a://`` is accepted and normalised).
        date: the partition's date.
        flag: the success flag's file name.
        client: a boto3 S3 client; a shared one built from ``[s3_endpoint]`` when None.

    Example:
        >>> t = S3DatedTarget("s3://lake/clicks", datetime.date(2024, 1, 15))
        >>> t.spark_uri
        's3a://lake/clicks/2024-01-15/'
    """

    def __init__(
        self,
        root: str,
        date: datetime.date | str,
        *,
        flag: str = DEFAULT_FLAG,
        client: Any = None,
    ) -> None:
        if parse_root(root).scheme != "s3":
            raise InvalidRootError(
                f"S3DatedTarget root {root!r} is not an s3:// URI; use DatedTarget or "
                "dated_target() for local directories"
            )
        super().__init__(root, date, flag=flag, client=client)
