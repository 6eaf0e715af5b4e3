"""Shared test configuration; the service fixtures come from the luigi_ufo.testing plugin."""

from __future__ import annotations

# pytester runs child pytest sessions for the harness's own tests (fixture teardown, reports).
pytest_plugins = ["pytester"]
