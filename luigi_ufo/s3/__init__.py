"""S3 connection settings: ``[s3_endpoint]``, a boto3 client from it, Spark's s3a conf from it.

The layer both dated datasets (boto3) and Spark tasks (s3a) derive their S3 access from. Importing
this package does not import boto3; the client is built on first use. ``S3DatedTarget`` lives in
:mod:`luigi_ufo.dated` (it is a dated target); it is importable from here too, loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from luigi_ufo.s3.client import default_client, make_client
from luigi_ufo.s3.s3a import s3a_conf, s3a_env
from luigi_ufo.s3.settings import S3Settings

if TYPE_CHECKING:
    from luigi_ufo.dated.target import S3DatedTarget

__all__ = ["S3DatedTarget", "S3Settings", "default_client", "make_client", "s3a_conf", "s3a_env"]


def __getattr__(name: str) -> Any:
    # The documented ``from luigi_ufo.s3 import S3DatedTarget``: its home is the dated package.
    if name == "S3DatedTarget":
        return importlib.import_module("luigi_ufo.dated.target").S3DatedTarget
    raise AttributeError(f"module 'luigi_ufo.s3' has no attribute {name!r}")
