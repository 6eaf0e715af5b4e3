"""S3 for dated datasets: S3DatedTarget, a boto3 client from ``[ufo_s3]``, Spark's s3a conf."""

from __future__ import annotations

from luigi_ufo.s3.settings import S3Settings
from luigi_ufo.s3.target import S3DatedTarget

__all__ = ["S3DatedTarget", "S3Settings"]
