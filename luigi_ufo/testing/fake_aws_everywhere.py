"""Opt-in autouse fixtures: fake AWS for the whole session and for every test.

Registered by the plugin only when the project's ini sets ``luigi_ufo_fake_aws = true``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from luigi_ufo.testing.fake_aws import fake_aws_while


@pytest.fixture(scope="session", autouse=True)
def _luigi_ufo_fake_aws_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Session level too, so session fixtures and the services they spawn never see real keys.
    with fake_aws_while(tmp_path_factory):
        yield


@pytest.fixture(autouse=True)
def _luigi_ufo_fake_aws(aws_credentials: dict[str, str]) -> None:
    return None
