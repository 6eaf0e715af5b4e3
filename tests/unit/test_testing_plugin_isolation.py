"""The pytest plugin, loaded from its entry point, changes nothing in a project that does not ask.

Each child session is a separate ``python -m pytest`` process in a fresh project directory (its
own ini, no conftest), so the plugin is loaded the way pip installs it: by the ``pytest11``
entry point of the installed distribution.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

#: A developer's own AWS environment, which an unrelated project's tests must see unchanged.
OWN_AWS = {
    "AWS_PROFILE": "dev-profile",
    "AWS_ACCESS_KEY_ID": "AKIA-OWN-KEY",
    "AWS_SECRET_ACCESS_KEY": "own-secret",
    "AWS_SESSION_TOKEN": "own-token",
    "AWS_CONFIG_FILE": "/home/dev/.aws/config",
}

CHILD_HELPERS = """
import json
import os
import sys
import warnings
from pathlib import Path

import pytest

EXPECTED = json.loads(Path({expected!r}).read_text(encoding="utf-8"))


def own(env):
    # pytest sets PYTEST_CURRENT_TEST / PYTEST_VERSION, pytester's subprocess PYTHONPATH;
    # everything else must match.
    return {{k: v for k, v in env.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}}
"""


@pytest.fixture
def own_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Give the child sessions a developer's AWS environment; return the snapshot's path."""
    for key, value in OWN_AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    snapshot = tmp_path / "environment.json"
    snapshot.write_text(json.dumps(dict(os.environ)), encoding="utf-8")
    return snapshot


def test_unrelated_project_keeps_its_environment_and_warnings(
    pytester: pytest.Pytester, own_environment: Path
) -> None:
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(
        test_own=CHILD_HELPERS.format(expected=str(own_environment))
        + """

def test_the_plugin_came_from_the_entry_point_and_imported_no_luigi(pytestconfig):
    manager = pytestconfig.pluginmanager
    assert manager.has_plugin("luigi_ufo.testing.plugin")
    dists = {dist.metadata["name"] for _, dist in manager.list_plugin_distinfo()}
    assert "luigi-ufo" in dists or "luigi_ufo" in dists, dists
    assert "luigi" not in sys.modules


def test_environment_untouched():
    assert own(os.environ) == own(EXPECTED)


def test_warnings_stay_errors_as_the_project_configured():
    with pytest.raises(DeprecationWarning):
        warnings.warn("the project's own filter turns this into an error", DeprecationWarning)


def test_a_fixture_fakes_aws_for_its_own_test(aws_credentials):
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ and "AWS_SESSION_TOKEN" not in os.environ
    assert os.environ["AWS_CONFIG_FILE"] != EXPECTED["AWS_CONFIG_FILE"]


def test_after_that_test_everything_is_back():
    assert own(os.environ) == own(EXPECTED)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    assert "Error while loading plugin" not in result.stderr.str()


def test_a_project_that_opts_in_gets_fake_aws_everywhere(
    pytester: pytest.Pytester, own_environment: Path
) -> None:
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\nluigi_ufo_fake_aws = true\n")
    pytester.makeconftest(
        """
import os

import pytest


@pytest.fixture(scope="session")
def session_key():
    return os.environ.get("AWS_ACCESS_KEY_ID")
"""
    )
    pytester.makepyfile(
        test_opted=CHILD_HELPERS.format(expected=str(own_environment))
        + """

def test_every_test_and_the_session_see_fake_keys(session_key):
    assert session_key == "testing"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        assert var not in os.environ
    assert Path(os.environ["AWS_CONFIG_FILE"]).read_text(encoding="utf-8") == ""
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_this_repository_opts_in(pytestconfig: pytest.Config) -> None:
    # tox.ini sets luigi_ufo_fake_aws: no test here can pick up a developer's keys.
    assert pytestconfig.getini("luigi_ufo_fake_aws") is True
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ
    assert Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).read_text() == ""


def test_the_project_luigi_cfg_reaches_only_tests_that_ask_for_it(
    pytester: pytest.Pytester,
) -> None:
    # A developer's luigi.cfg points Spark tasks at a Connect server they keep running.
    cfg = "[core]\nautoload_range = false\n[spark_script]\nmode = connect\n"
    pytester.makefile(".cfg", luigi=cfg)
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(
        test_cfg="""
import pytest


def mode():
    from luigi_ufo.spark.settings import SparkSettings

    return SparkSettings.from_config().mode


def test_a_test_using_the_fixtures_runs_on_luigi_defaults(luigi_config):
    assert mode() == "submit"
    luigi_config("spark_script", "master", "local[1]")  # what it sets is all it gets
    import luigi.configuration

    assert luigi.configuration.get_config().items("spark_script") == [("master", "local[1]")]


@pytest.mark.luigi_project_config
def test_a_test_asks_for_the_project_configuration(luigi_config):
    assert mode() == "connect"


def test_a_test_without_the_fixtures_is_left_as_luigi_reads_it():
    assert mode() == "connect"
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
