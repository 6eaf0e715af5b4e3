"""Build a boto3 S3 client from :class:`S3Settings`; credentials come from the boto3 chain."""

from __future__ import annotations

import threading
from typing import Any

from luigi_ufo.errors import ConfigError
from luigi_ufo.s3.settings import S3Settings

_CACHE: dict[tuple[S3Settings, tuple[str, ...]], Any] = {}
_LOCK = threading.Lock()
# Credentials in the environment are part of the cache key, so a change is picked up.
_CRED_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def botocore_config(settings: S3Settings) -> Any:
    """Return the ``botocore.config.Config`` for ``settings``."""
    from botocore.config import Config

    retries: Any = {"mode": settings.retry_mode, "max_attempts": settings.max_attempts}
    return Config(
        region_name=settings.region,
        retries=retries,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        s3={"addressing_style": "path" if settings.path_style else "auto"},
    )


def make_client(settings: S3Settings | None = None) -> Any:
    """Return a new boto3 S3 client for ``settings`` (``[s3_endpoint]`` when None)."""
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            "boto3 is not installed, so s3:// roots cannot be used; pip install 'luigi-ufo[s3]'"
        ) from exc
    settings = settings or S3Settings.from_config()
    session = boto3.session.Session()
    return session.client(
        "s3", endpoint_url=settings.endpoint_url, config=botocore_config(settings)
    )


def default_client(settings: S3Settings | None = None) -> Any:
    """Return a shared client for ``settings`` (``[s3_endpoint]`` when None), built once."""
    import os

    settings = settings or S3Settings.from_config()
    key = (settings, tuple(os.environ.get(name, "") for name in _CRED_VARS))
    with _LOCK:
        client = _CACHE.get(key)
        if client is None:
            if len(_CACHE) >= 16:  # a long-lived worker cycling settings must not grow forever
                _CACHE.clear()
            client = _CACHE[key] = make_client(settings)
        return client
