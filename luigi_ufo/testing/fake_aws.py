"""Fake AWS credentials and empty AWS config files, so no test can reach real AWS."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from luigi_ufo.services.moto import FAKE_AWS_ENV

__all__ = ["fake_aws", "fake_aws_while"]

_UNSET_AWS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
#: Keys for an S3 server of your own (``LUIGI_UFO_TEST_S3_ENDPOINT``) that rejects "testing".
_KEY_OVERRIDES = {
    "AWS_ACCESS_KEY_ID": "LUIGI_UFO_TEST_AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "LUIGI_UFO_TEST_AWS_SECRET_ACCESS_KEY",
}


def fake_aws(mp: pytest.MonkeyPatch, empty_dir_factory: Callable[[], str]) -> dict[str, str]:
    """Set fake keys and empty AWS config files (in ``empty_dir_factory()``) through ``mp``."""
    directory = empty_dir_factory()
    env = {
        **FAKE_AWS_ENV,
        **{var: os.environ[src] for var, src in _KEY_OVERRIDES.items() if os.environ.get(src)},
        # Empty files, so no profile of the developer's ~/.aws can leak in.
        "AWS_CONFIG_FILE": f"{directory}/config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{directory}/credentials",
    }
    for path in (env["AWS_CONFIG_FILE"], env["AWS_SHARED_CREDENTIALS_FILE"]):
        Path(path).touch()
    for key, value in env.items():
        mp.setenv(key, value)
    for key in _UNSET_AWS:
        mp.delenv(key, raising=False)
    return env


@contextlib.contextmanager
def fake_aws_while(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Fake AWS in this process's environment while the block runs (for session-level use)."""
    mp = pytest.MonkeyPatch()
    try:
        yield fake_aws(mp, lambda: str(tmp_path_factory.mktemp("aws-session")))
    finally:
        mp.undo()
