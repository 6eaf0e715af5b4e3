"""Real-service test fixtures of luigi-ufo (pytest plugin ``luigi_ufo.testing.plugin``).

Fixtures: ``postgres_dsn``, ``postgres_schema``, ``s3_endpoint``, ``s3_bucket``, ``spark_master``,
``spark_local_master``, ``luigid``, ``s3a_jars``, ``luigi_config`` and ``aws_credentials``
(autouse only with the ini option ``luigi_ufo_fake_aws = true``). ``missing(reason)`` skips a
test that lacks something, or fails it under ``LUIGI_UFO_TEST_STRICT=1``. See docs/testing.md.
"""

from __future__ import annotations

from luigi_ufo.services.spark_home import find_s3a_jars
from luigi_ufo.testing.backend import Backend, choose_backend, docker_reachable
from luigi_ufo.testing.strict import missing

__all__ = ["Backend", "choose_backend", "docker_reachable", "find_s3a_jars", "missing"]
