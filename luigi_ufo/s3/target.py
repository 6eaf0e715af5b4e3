"""S3DatedTarget: a dated partition under an ``s3://`` root."""

from __future__ import annotations

from typing import ClassVar

from luigi_ufo.dated.target import DatedTarget


class S3DatedTarget(DatedTarget):
    """The partition ``s3://bucket/prefix/<YYYY-MM-DD>/``; ``exists()`` is one HEAD of the flag.

    ``DatedTarget(root, date)`` gives this class for an ``s3://`` root; arguments as there.
    ``s3a://`` roots are accepted and normalised; ``client`` is a boto3 S3 client, a shared one
    built from ``[s3_endpoint]`` when None. A local root is refused.

    Example:
        >>> t = S3DatedTarget("s3://lake/clicks", datetime.date(2024, 1, 15))
        >>> t.spark_uri
        's3a://lake/clicks/2024-01-15/'
    """

    s3_only: ClassVar[bool] = True
