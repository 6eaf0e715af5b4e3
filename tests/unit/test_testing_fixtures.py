"""The plugin's service-free fixtures: fake AWS credentials and luigi_config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def test_fake_aws_credentials_are_set_and_config_files_empty(
    aws_credentials: dict[str, str],
) -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_SESSION_TOKEN" not in os.environ
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert Path(os.environ[var]).read_text() == ""
        assert aws_credentials[var] == os.environ[var]


def test_luigi_config_sets_and_restores(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import luigi.configuration
        import pytest

        project = luigi.configuration.get_config()  # what luigi read for the project
        project.add_section("ufo_pre")
        project.set("ufo_pre", "keep", "orig")

        def test_set_in_a_configuration_of_its_own(luigi_config):
            config = luigi.configuration.get_config()
            assert config is not project and not config.has_section("ufo_pre")
            luigi_config("ufo_pre", "keep", "changed")
            luigi_config("ufo_new_section", "answer", "42")
            luigi_config("ufo_new_section", "answer", "43")
            assert config.get("ufo_pre", "keep") == "changed"
            assert config.get("ufo_new_section", "answer") == "43"
            assert project.get("ufo_pre", "keep") == "orig"

        @pytest.mark.luigi_project_config
        def test_set_in_the_project_configuration(luigi_config):
            assert luigi.configuration.get_config() is project
            luigi_config("ufo_pre", "keep", "changed")
            luigi_config("ufo_pre", "added", "1")
            luigi_config("ufo_new_section", "answer", "42")
            assert project.get("ufo_pre", "keep") == "changed"

        def test_restored():
            try:
                assert luigi.configuration.get_config() is project
                assert project.get("ufo_pre", "keep") == "orig"
                assert not project.has_option("ufo_pre", "added")
                assert not project.has_section("ufo_new_section")
            finally:
                project.remove_section("ufo_pre")
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=3)


def test_keys_for_an_own_s3_server_override_the_fake_ones(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUIGI_UFO_TEST_AWS_ACCESS_KEY_ID", "minio-user")
    monkeypatch.setenv("LUIGI_UFO_TEST_AWS_SECRET_ACCESS_KEY", "minio-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-real-looking-token")
    pytester.makepyfile(
        """
        import os

        def test_keys(aws_credentials):
            assert os.environ["AWS_ACCESS_KEY_ID"] == "minio-user"
            assert os.environ["AWS_SECRET_ACCESS_KEY"] == "minio-secret"
            assert "AWS_SESSION_TOKEN" not in os.environ
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)
