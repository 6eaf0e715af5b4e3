"""Shared test configuration: the service fixtures come from the luigi_ufo.testing plugin.

It is registered through the ``pytest11`` entry point, so nothing needs to be imported here;
``-p pytester`` (child sessions for the harness's own tests) is enabled in tox.ini.

Tests marked ``docker`` belong to the Docker leg (``.ci/docker-leg``): they are deselected, not
skipped, unless ``LUIGI_UFO_TEST_BACKEND=docker`` chooses the Docker backend, and then they need
an engine (no ping decides it for them).
"""

from __future__ import annotations

import os

import pytest

from luigi_ufo.testing.backend import BACKEND_ENV

# A user's own project (its own pyproject, luigi.cfg and tests), run by
# tests/integration/test_example_project.py in a venv with the built wheel; not part of this suite.
collect_ignore = ["example_project"]


def docker_leg() -> bool:
    """Tell whether this session is the Docker leg: the Docker backend chosen for every service."""
    return os.environ.get(BACKEND_ENV, "").strip().lower() == "docker"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the Docker leg's own tests outside it (reported as deselected, not skipped)."""
    if docker_leg():
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("docker") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
