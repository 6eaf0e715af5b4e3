"""The package's public surface: what ``__all__`` promises is importable and lazily loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

import luigi_ufo


@pytest.mark.parametrize("name", sorted(set(luigi_ufo.__all__) - {"__version__"}))
def test_every_public_name_resolves_to_a_class_of_that_name(name: str) -> None:
    obj = getattr(luigi_ufo, name)
    assert obj.__name__ == name


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        luigi_ufo.no_such_thing  # noqa: B018 - the attribute access is the test


def test_importing_the_package_loads_no_optional_extra() -> None:
    code = (
        "import sys, luigi_ufo; "
        "print(sorted(m for m in ('pyspark', 'boto3', 'psycopg2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
