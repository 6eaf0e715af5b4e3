"""S3 for dated datasets: S3DatedTarget, a boto3 client from ``[s3_endpoint]``, Spark's s3a conf.

Importing this package does not import boto3; the client is built on first use.
"""

from __future__ import annotations

from luigi_ufo.s3.client import default_client, make_client
from luigi_ufo.s3.s3a import s3a_conf, s3a_env
from luigi_ufo.s3.settings import S3Settings
from luigi_ufo.s3.target import S3DatedTarget

__all__ = ["S3DatedTarget", "S3Settings", "default_client", "make_client", "s3a_conf", "s3a_env"]
