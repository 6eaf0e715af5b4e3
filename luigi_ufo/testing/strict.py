"""Skip a test that lacks what it needs, or fail it where skips are not allowed (CI).

A fixture that cannot provide its service (no s3a jars, no Spark Connect client) skips its test
with the reason, which suits a developer's laptop. Under ``LUIGI_UFO_TEST_STRICT=1`` the same
call fails the test instead, so a CI run cannot pass while what it claims to check did not run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NoReturn

import pytest

__all__ = ["STRICT_ENV", "missing", "strict"]

#: ``1`` (or ``true``/``yes``): a test lacking what it needs fails instead of skipping.
STRICT_ENV = "LUIGI_UFO_TEST_STRICT"


def strict(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether ``LUIGI_UFO_TEST_STRICT`` turns skips for missing things into failures."""
    value = (os.environ if environ is None else environ).get(STRICT_ENV, "")
    return value.strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip the running test saying ``reason``; fail it instead under ``LUIGI_UFO_TEST_STRICT``."""
    if strict():
        pytest.fail(f"{reason} ({STRICT_ENV} is set: a missing requirement fails)", pytrace=False)
    pytest.skip(reason)
