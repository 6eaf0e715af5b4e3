"""pytest plugin of luigi-ufo: real PostgreSQL, S3 (moto), Spark and luigid for tests.

Registered through the ``pytest11`` entry point, so installing luigi-ufo makes the fixtures
available in any project. It changes nothing in a test that uses none of them: no autouse
fixture, and importing it imports no luigi (whose import warns). Fake AWS credentials are set
by ``aws_credentials`` and ``s3_bucket`` for their test, and for every test of a project that
opts in with the ini option ``luigi_ufo_fake_aws = true``. Every service fixture is
session-scoped, picks its backend by :func:`luigi_ufo.testing.backend.select_backend`, stops
what it started at session end (also after failures) and attaches its log tail to the report
of a failing test that used it. A test using the fixtures runs with a luigi configuration of its
own, not the project's luigi.cfg (:mod:`luigi_ufo.testing.luigi_cfg`; the marker
``luigi_project_config`` asks for the project's), and ``postgres_schema`` gives it a database
schema of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from luigi_ufo.services.spark_home import find_s3a_jars
from luigi_ufo.testing.fake_aws import fake_aws, fake_aws_while
from luigi_ufo.testing.luigi_cfg import MARKER, PLUGIN_FIXTURES, isolated_luigi_config
from luigi_ufo.testing.strict import missing

if TYPE_CHECKING:
    from luigi_ufo.testing.backend import Service
    from luigi_ufo.testing.connect import SparkConnectService
    from luigi_ufo.testing.luigid import LuigidService
    from luigi_ufo.testing.spark import SparkCluster

__all__ = [
    "aws_credentials",
    "luigi_config",
    "luigid",
    "postgres_dsn",
    "postgres_schema",
    "s3_bucket",
    "s3_endpoint",
    "s3a_jars",
    "spark_connect",
    "spark_local_master",
    "spark_master",
]

#: Running services by the fixture name that started them, for failure reports. Kept per
#: pytest config, so a nested session (pytester) cannot unregister the outer session's services.
_SERVICES = pytest.StashKey[dict[str, "Service"]]()
_S = TypeVar("_S", bound="Service")

#: The ini option by which a project fakes AWS for every test and the whole session.
OPT_IN = "luigi_ufo_fake_aws"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the opt-in ini option."""
    parser.addini(
        OPT_IN,
        type="bool",
        default=False,
        help="luigi-ufo: fake AWS credentials and empty AWS config files for every test and "
        "the whole session (default: only in tests using aws_credentials or s3_bucket)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker; register the autouse fake-AWS fixtures only where a project opted in."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}: luigi-ufo: read the project's own luigi configuration files in this test "
        "(tests using luigi-ufo's fixtures otherwise get an empty one)",
    )
    if config.getini(OPT_IN):
        from luigi_ufo.testing import fake_aws_everywhere

        config.pluginmanager.register(fake_aws_everywhere, "luigi_ufo.testing.fake_aws_everywhere")


@pytest.fixture
def aws_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Set fake AWS credentials and empty AWS config files for this test; return them."""
    return fake_aws(monkeypatch, lambda: str(tmp_path_factory.mktemp("aws")))


@pytest.fixture
def luigi_config() -> Iterator[Callable[[str, str, str], None]]:
    """Return ``set(section, option, value)`` for luigi's config, undone after the test."""
    # Imported here: importing luigi warns (autoload_range), which only a user of luigi should see.
    from luigi_ufo.settings.sections import config_overrides

    with config_overrides() as set_option:
        yield set_option


_ISOLATION = pytest.StashKey[contextlib.ExitStack]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Give a test using the plugin's fixtures a luigi configuration of its own (unless marked).

    Only where Luigi is imported already (a test module importing its tasks) or ``luigi_config``
    imports it: the plugin never imports Luigi (whose import may warn) for a test that does not.
    """
    fixtures = getattr(item, "fixturenames", ())
    luigi_used = "luigi" in sys.modules or "luigi_config" in fixtures
    asked = item.get_closest_marker(MARKER) is not None
    if luigi_used and not asked and PLUGIN_FIXTURES.intersection(fixtures):
        stack = contextlib.ExitStack()
        stack.enter_context(isolated_luigi_config())
        item.stash[_ISOLATION] = stack
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Give the project's configuration back once the test's fixtures are torn down."""
    try:
        return (yield)
    finally:
        stack = item.stash.get(_ISOLATION, None)
        if stack is not None:
            del item.stash[_ISOLATION]
            stack.close()


@contextlib.contextmanager
def _serving(config: pytest.Config, fixture: str, service: _S) -> Iterator[_S]:
    services = config.stash.setdefault(_SERVICES, {})
    services[fixture] = service
    # Safety net for an interpreter that exits without session teardown (internal error).
    atexit.register(service.stop)
    try:
        yield service
    finally:
        services.pop(fixture, None)
        atexit.unregister(service.stop)
        service.stop()


@pytest.fixture(scope="session")
def postgres_dsn(pytestconfig: pytest.Config) -> Iterator[str]:
    """Return a libpq keyword DSN of a throwaway PostgreSQL server (database ``postgres``)."""
    from luigi_ufo.testing.postgres import start_postgres

    with _serving(pytestconfig, "postgres_dsn", start_postgres()) as service:
        yield service.dsn


@pytest.fixture
def postgres_schema(postgres_dsn: str) -> Iterator[str]:
    """Return a DSN of ``postgres_dsn``'s server whose tables land in a fresh schema of this test.

    Its ``search_path`` is that schema alone, so the unqualified tables a test makes (its own,
    a PostgresTopNTask's table and marker table) are its own: two tests of the same date do not
    see each other's rows or markers. The schema is dropped with everything in it afterwards.
    """
    import psycopg2
    import psycopg2.extensions
    from psycopg2 import sql

    name = f"test_{uuid.uuid4().hex[:16]}"
    schema = sql.Identifier(name)
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    conn.close()
    params = psycopg2.extensions.parse_dsn(postgres_dsn)
    params["options"] = f"{params.get('options', '')} -c search_path={name}".strip()
    yield psycopg2.extensions.make_dsn(**params)
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))
    conn.close()


@pytest.fixture(scope="session")
def s3_endpoint(pytestconfig: pytest.Config) -> Iterator[str]:
    """Return the ``http://host:port`` endpoint of an S3 server (moto)."""
    from luigi_ufo.testing.s3 import start_s3

    with _serving(pytestconfig, "s3_endpoint", start_s3()) as service:
        yield service.endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str, aws_credentials: dict[str, str]) -> Iterator[str]:
    """Return the name of a fresh, empty bucket on ``s3_endpoint``; delete it afterwards."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name=aws_credentials["AWS_DEFAULT_REGION"]
    )
    name = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        contents = page.get("Contents", [])
        if contents:
            # Inline, so boto3-stubs (when installed) type the literal from the call's TypedDict.
            client.delete_objects(
                Bucket=name, Delete={"Objects": [{"Key": obj["Key"]} for obj in contents]}
            )
    client.delete_bucket(Bucket=name)


@pytest.fixture(scope="session")
def _luigi_ufo_pyspark_python() -> Iterator[None]:
    # A spark-submit started by a test runs driver and executors on PYSPARK_PYTHON, else on
    # "python3" from PATH, which may lack the test's packages. A user's own choice wins.
    mp = pytest.MonkeyPatch()
    for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        if not os.environ.get(var):
            mp.setenv(var, sys.executable)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def spark_master(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    _luigi_ufo_pyspark_python: None,
) -> Iterator[SparkCluster]:
    """Return a Spark standalone cluster (``.master_url``, ``.web_url``, ``.backend``)."""
    from luigi_ufo.testing.spark import start_spark

    # The daemons (and so the executors) inherit the fake keys; this session's env is restored.
    with fake_aws_while(tmp_path_factory):
        cluster = start_spark()
    with _serving(pytestconfig, "spark_master", cluster) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def spark_local_master(_luigi_ufo_pyspark_python: None) -> str:
    """Return the in-process master URL ``local[2]`` for fast Spark tests."""
    return "local[2]"


@pytest.fixture(scope="session")
def spark_connect(
    pytestconfig: pytest.Config, _luigi_ufo_pyspark_python: None
) -> Iterator[SparkConnectService]:
    """Return a Spark Connect server on ``local[2]`` (``.url``, ``.pid``, ``.jobs()``).

    Skips, saying why, where connect mode cannot run: pyspark < 4.0 (no server in its wheel)
    or the Connect client's packages missing (``pip install 'luigi-ufo[connect]'``); fails
    instead under ``LUIGI_UFO_TEST_STRICT=1``.
    """
    from luigi_ufo.errors import ConfigError
    from luigi_ufo.spark.connect.runner import require_connect_client
    from luigi_ufo.testing.connect import start_spark_connect

    try:
        require_connect_client()
    except ConfigError as exc:
        missing(f"spark_connect: {exc}")
    with _serving(pytestconfig, "spark_connect", start_spark_connect()) as service:
        yield service


@pytest.fixture(scope="session")
def luigid(pytestconfig: pytest.Config) -> Iterator[LuigidService]:
    """Return a running central scheduler (``.url``, ``.host``, ``.port``, ``.task_list()``)."""
    from luigi_ufo.testing.luigid import start_luigid

    with _serving(pytestconfig, "luigid", start_luigid()) as service:
        yield service


@pytest.fixture(scope="session")
def s3a_jars() -> list[str]:
    """Return hadoop-aws + AWS SDK jar paths for Spark's s3a://, or skip saying how to get them.

    Fails instead of skipping under ``LUIGI_UFO_TEST_STRICT=1``.
    """
    jars = find_s3a_jars()
    if jars is None:
        missing(
            "s3a jars not found: set LUIGI_UFO_SPARK_JARS to comma-separated paths of "
            "hadoop-aws and aws-java-sdk-bundle jars (.ci/fetch-s3a-jars DIR prints them)"
        )
    return [str(jar) for jar in jars]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tail of each service a failing test used to its report."""
    report: pytest.TestReport = yield
    if report.failed:
        for fixture in getattr(item, "fixturenames", ()):
            service = item.config.stash.get(_SERVICES, {}).get(fixture)
            if service is not None:
                title = f"{service.name} log tail ({service.backend.value} backend)"
                report.sections.append((title, service.log_tail()))
    return report
