"""Settings declared once: sections, config-time validation, credentials, overrides."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import luigi.configuration
import pytest
from luigi.cmdline_parser import CmdlineParser

from luigi_ufo.dated import DatedTarget, LakeSettings, S3DatedTarget, lake_dataset, lake_target
from luigi_ufo.errors import ConfigError, ConfigWarning
from luigi_ufo.postgres.settings import ConnectionSettings, PostgresTopNSettings, postgres_topn
from luigi_ufo.s3.settings import S3Settings
from luigi_ufo.settings.fields import settings_of
from luigi_ufo.settings.sections import SECTIONS
from luigi_ufo.spark import ExternalSparkScriptTask, SparkSettings
from luigi_ufo.spark.submit.spec import SparkOptions, SubmitSpec, build_argv
from luigi_ufo.ufo.settings import UfoSettings

UseConfig = Callable[[str], None]
SetConfig = Callable[[str, str, str], None]


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> UseConfig:
    """Replace luigi's configuration by the text of a luigi.cfg, as read from a file."""

    def use(text: str) -> None:
        parser = luigi.configuration.LuigiConfigParser()
        parser.read_string(text)
        monkeypatch.setattr(luigi.configuration, "get_config", lambda: parser)

    return use


# --- sections named for what they configure ----------------------------------------------------


def test_new_sections_read_without_warning(cfg: UseConfig) -> None:
    cfg("[spark_script]\nmaster = local[2]\n[s3_endpoint]\npath_style = true\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SparkSettings.from_config().master == "local[2]"
        assert S3Settings.from_config().path_style is True


def test_command_line_flags_of_luigi_keep_working(cfg: UseConfig) -> None:
    cfg("[spark_script]\nmaster = yarn\n")
    # luigi spells a section's flags with dashes: --<section>-<key>, underscores included.
    argv = ["--spark-script-master", "local[3]", "--spark-script-supervise", "--lake-root", "/l"]
    with CmdlineParser.global_instance(["WithUserParameters", *argv]):
        settings = SparkSettings.from_config()
        assert LakeSettings.from_config().root == "/l"
    assert (settings.master, settings.supervise) == ("local[3]", True)


def test_bad_command_line_value_is_a_config_error(cfg: UseConfig) -> None:
    cfg("")
    argv = ["WithUserParameters", "--spark-script-timeout", "ten"]
    with (
        CmdlineParser.global_instance(argv),
        pytest.raises(ConfigError, match=r"--spark-script-timeout\) = 'ten' is invalid"),
    ):
        SparkSettings.from_config()


# --- one declaration per setting ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_each_section_has_one_parameter_per_declared_setting_with_its_default(name: str) -> None:
    section = SECTIONS[name]
    params = dict(section.config_class.get_params())
    declared = settings_of(section.value_class)
    assert list(params) == [s.name for s in declared]
    for s in declared:
        assert params[s.name]._default == s.default
        assert params[s.name].description == s.doc


@pytest.mark.parametrize("option", [s for s in settings_of(SparkOptions) if s.flag])
def test_every_setting_with_a_flag_reaches_argv(option: Any) -> None:
    value = {"bool": True, "list": ("x", "y"), "int": 3}.get(option.kind, "v")
    if option.name == "master":
        value = "yarn"
    if option.name == "deploy_mode":
        value = "client"
    argv = build_argv(SubmitSpec(app="/s/j.py", spark_submit="ss", **{option.name: value}))
    expected = (
        [option.flag]
        if value is True
        else [option.flag, "x,y" if value == ("x", "y") else str(value)]
    )
    position = argv.index(option.flag)
    assert argv[position : position + len(expected)] == expected


def test_defaults_are_written_once() -> None:
    # The runner and the section read the value objects' own defaults.
    assert (
        SparkSettings().tail_lines
        == dict(SECTIONS["spark_script"].config_class.get_params())["tail_lines"]._default
    )
    assert ConnectionSettings().connect_timeout == 10
    assert PostgresTopNSettings().marker_table == "luigi_ufo_markers"


# --- validation at config time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ufo]\ntop = ten\n", r"\[ufo\] top = 'ten' is invalid: expected a whole number, e.g. 10"),
        (
            "[spark_script]\ntimeout = 10x\n",
            r"\[spark_script\] timeout = '10x' is invalid: expected a duration: seconds \(90\) "
            r"or a number with s, m or h \(90s, 10m, 1h\)",
        ),
        (
            "[spark_script]\ntimeout = 0\n",
            r"timeout = '0' is invalid: expected a positive duration",
        ),
        (
            "[spark_script]\nmaster = locl[2]\n",
            r"master = 'locl\[2\]' is invalid: expected a Spark master URL: local, local\[N\]",
        ),
        ("[spark_script]\nmaster = sc://h:15002\n", r"sc:// is a Spark Connect URL, not a master"),
        (
            "[spark_script]\ndeploy_mode = clutser\n",
            r"deploy_mode = 'clutser' is invalid: expected one of client, cluster",
        ),
        (
            "[spark_script]\nsupervise = yes please\n",
            r"supervise = 'yes please' is invalid: expected true or false",
        ),
        (
            "[spark_script]\nconf = spark.a=1\n",
            r"conf = 'spark.a=1' is invalid: expected a JSON object",
        ),
        (
            "[spark_script]\nexecutor_cores = 0\n",
            r"executor_cores = '0' is invalid: expected a positive whole number",
        ),
        (
            "[s3_endpoint]\nendpoint_url = 127.0.0.1:9000\n",
            r"endpoint_url = '127.0.0.1:9000' is invalid: expected an http:// or https:// URL",
        ),
        (
            "[postgres_topn]\nport = 99999\n",
            r"\[postgres_topn\] port = '99999' is invalid: expected a TCP port",
        ),
    ],
)
def test_bad_values_name_section_key_value_and_form(
    cfg: UseConfig, text: str, message: str
) -> None:
    cfg(text)
    read = {
        "[ufo]": UfoSettings.from_config,
        "[s3_e": S3Settings.from_config,
        "[post": ConnectionSettings.from_config,
    }.get(text[:5], SparkSettings.from_config)
    with pytest.raises(ConfigError, match=message):
        read()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1.5 min", 90.0)],
)
def test_durations(cfg: UseConfig, text: str, seconds: float) -> None:
    cfg(f"[spark_script]\ntimeout = {text}\nkill_grace = {text}\n")
    settings = SparkSettings.from_config()
    assert (settings.timeout, settings.kill_grace) == (seconds, seconds)


@pytest.mark.parametrize(
    "master",
    [
        "local",
        "local[4]",
        "local[*]",
        "local[4,2]",
        "local[*,3]",
        "spark://h:7077",
        "spark://a:7077,b:7077",
        "yarn",
        "k8s://https://h:6443",
        "local-cluster[2,1,1024]",
    ],
)
def test_valid_master_urls(cfg: UseConfig, master: str) -> None:
    cfg(f"[spark_script]\nmaster = {master}\n")
    assert SparkSettings.from_config().master == master


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[spark_script]\nmastr = local[2]\n",
            r"\[spark_script\] mastr is not a setting; did you mean 'master'\?",
        ),
        (
            "[spark_script]\nscripts_dri = /s\n",
            r"scripts_dri is not a setting; did you mean 'scripts_dir'\?",
        ),
        (
            "[s3_endpoint]\nendpoint = http://x\n",
            r"endpoint is not a setting; did you mean 'endpoint_url'\?",
        ),
        (
            "[postgres_topn]\ndatabse = d\n",
            r"\[postgres_topn\] databse is not a setting; did you mean 'database'\?",
        ),
    ],
)
def test_unknown_keys_are_refused_with_the_closest_valid_key(
    cfg: UseConfig, text: str, message: str
) -> None:
    cfg(text)
    read = S3Settings.from_config if "s3" in text else SparkSettings.from_config
    if "postgres" in text:
        read = ConnectionSettings.from_config
    with pytest.raises(ConfigError, match=message):
        read()


@pytest.mark.parametrize(
    ("section", "suggested"),
    [
        ("sprak_script", "spark_script"),
        ("spark_scrpit", "spark_script"),
        ("s3_endpiont", "s3_endpoint"),
        ("postgres_topm", "postgres_topn"),
        ("lakes", "lake"),
    ],
)
def test_misspelt_section_names_are_warned_about(
    cfg: UseConfig, section: str, suggested: str
) -> None:
    cfg(f"[{section}]\nmaster = yarn\n")
    with pytest.warns(
        ConfigWarning,
        match=rf"section \[{section}\] is not a luigi-ufo section and is ignored; "
        rf"did you mean \[{suggested}\]\?",
    ):
        SparkSettings.from_config()


def test_unrelated_sections_and_task_sections_are_not_warned_about(cfg: UseConfig) -> None:
    cfg("[core]\nautoload_range = false\n[RangeDaily]\nreverse = true\n[myproject]\nx = 1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SparkSettings.from_config()


# --- credentials are refused, never echoed --------------------------------------------------------


PG_HINT = "PGPASSWORD or ~/.pgpass"
AWS_HINT = "AWS credential chain"
SPARK_HINT = "private (chmod 600) [spark_script] properties_file"
ENV_HINT = "name it in [spark_script] secret_env"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("[postgres_topn]\npassword = hunter2-secret\n", PG_HINT),
        ("[s3_endpoint]\naws_secret_access_key = hunter2-secret\n", AWS_HINT),
        ("[s3_endpoint]\naws_session_token = hunter2-secret\n", AWS_HINT),
        (
            '[spark_script]\nconf = {"spark.hadoop.fs.s3a.secret.key": "hunter2-secret"}\n',
            SPARK_HINT,
        ),
        ('[spark_script]\nenv = {"PGPASSWORD": "hunter2-secret"}\n', ENV_HINT),
        ('[spark_script]\nenv = {"AWS_SESSION_TOKEN": "hunter2-secret"}\n', ENV_HINT),
    ],
)
def test_credentials_in_luigi_cfg_are_refused_without_echoing_them(
    cfg: UseConfig, text: str, hint: str
) -> None:
    cfg(text)
    read = {
        "[p": ConnectionSettings.from_config,
        "[u": ConnectionSettings.from_config,
        "[s3": S3Settings.from_config,
    }
    reader = read.get(text[:3], read.get(text[:2], SparkSettings.from_config))
    with pytest.raises(ConfigError, match="looks like a credential") as caught:
        reader()
    assert "hunter2" not in str(caught.value)
    assert hint in str(caught.value)


def test_luigi_never_echoes_a_credential_in_its_unconsumed_parameter_warning(
    cfg: UseConfig,
) -> None:
    # Instantiating the luigi.Config section itself (as luigi's tooling does) refuses it first.
    cfg("[postgres_topn]\npassword = hunter2-secret\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ConfigError) as caught:
            postgres_topn()
    assert "hunter2" not in str(caught.value)
    assert not any("hunter2" in str(w.message) for w in seen)


# --- list settings: comma form and JSON; '%' in luigi.cfg ---------------------------------------


@pytest.mark.parametrize("key", [s.name for s in settings_of(SparkSettings) if s.kind == "list"])
@pytest.mark.parametrize("text", ["/a.jar,/b.jar", " /a.jar , /b.jar ,", '["/a.jar", "/b.jar"]'])
def test_every_list_setting_takes_commas_or_json(cfg: UseConfig, key: str, text: str) -> None:
    cfg(f"[spark_script]\n{key} = {text}\n")
    assert getattr(SparkSettings.from_config(), key) == ("/a.jar", "/b.jar")


@pytest.mark.parametrize("key", ["jars", "py_files", "files"])
def test_a_path_with_a_comma_is_refused_naming_it_and_the_fix(cfg: UseConfig, key: str) -> None:
    # spark-submit would split it into two paths: it has no escaping for commas in these lists.
    cfg(f'[spark_script]\n{key} = ["/b.jar", "/opt/libs,v2/x.jar"]\n')
    fix = r"'/opt/libs,v2/x.jar' would reach it as 2 paths; rename the file .* \(ln -s\)"
    with pytest.raises(ConfigError, match=rf"\[spark_script\] {key} = .* is invalid: .*{fix}"):
        SparkSettings.from_config()
    with pytest.raises(ConfigError, match=rf"T.spark_overrides\[{key!r}\] = .*{fix}"):
        SparkSettings().override({key: ["/opt/libs,v2/x.jar"]}, "T.spark_overrides")
    spec = SubmitSpec(app="/s/job.py", **{key: ("/ok.jar", "/a,b/x.jar")})
    with pytest.raises(ConfigError, match=rf"SubmitSpec {key} = .*'/a,b/x.jar' would reach"):
        build_argv(spec)


def test_a_lone_percent_is_a_clear_error_and_a_doubled_one_works(cfg: UseConfig) -> None:
    cfg("[lake]\nroot = /data/50%/lake\n")
    with pytest.raises(
        ConfigError,
        match=r"\[lake\] root = '/data/50%/lake' cannot be read: .* write a literal '%' as '%%'",
    ):
        LakeSettings.from_config()
    cfg("[lake]\nroot = /data/50%%/lake\n")
    assert LakeSettings.from_config().root == "/data/50%/lake"


# --- the lake ------------------------------------------------------------------------------------


def test_lake_target_under_the_configured_root(cfg: UseConfig, tmp_path: Path) -> None:
    cfg(f"[lake]\nroot = {tmp_path}/lake/\n")
    target = lake_target("clicks", datetime.date(2024, 1, 15))
    assert type(target) is DatedTarget
    assert target.uri == f"{tmp_path}/lake/clicks/2024-01-15/"
    cfg("[lake]\nroot = s3://bucket/prefix\n")
    s3 = lake_target("clicks", "2024-01-15")
    assert isinstance(s3, S3DatedTarget)
    assert s3.spark_uri == "s3a://bucket/prefix/clicks/2024-01-15/"


def test_lake_target_without_a_root_says_how_to_set_it(cfg: UseConfig) -> None:
    cfg("")
    with pytest.raises(ConfigError, match=r"\[lake\] root, which is unset; add to luigi.cfg"):
        lake_dataset("clicks")


def test_the_ufo_lake_is_the_lake_root_then_the_data_dir(
    cfg: UseConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUIGI_UFO_DATA_DIR", str(tmp_path / "data"))
    cfg("")
    assert UfoSettings.from_config().lake == str(tmp_path / "data" / "lake")
    cfg(f"[lake]\nroot = {tmp_path}/shared\n")
    assert UfoSettings.from_config().dataset("raw") == f"{tmp_path}/shared/ufo/raw"
    cfg("[lake]\nroot = s3://b/p/\n")
    assert UfoSettings.from_config().lake == "s3://b/p"


def test_the_lake_has_one_setting_so_ufo_lake_is_refused(cfg: UseConfig) -> None:
    cfg("[ufo]\nlake = /data/lake\n")
    with pytest.raises(ConfigError, match=r"\[ufo\] lake is not a setting"):
        UfoSettings.from_config()


# --- per-task overrides in their own namespace ---------------------------------------------


class WithUserParameters(ExternalSparkScriptTask):
    """A user's task whose own parameters are named like settings."""

    script = "job.py"
    env = luigi.Parameter(default="prod")
    files = luigi.ListParameter(default=["a.csv"])
    master = luigi.Parameter(default="not a master URL")
    spark_overrides = {"driver_memory": "2g", "conf": {"spark.a": "1"}}  # noqa: RUF012


def test_user_parameters_named_like_settings_stay_the_users(cfg: UseConfig, tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("")
    cfg(f'[spark_script]\nscripts_dir = {tmp_path}\nconf = {{"spark.b": "2"}}\n')
    task = WithUserParameters(env="staging", files=["x.csv"])
    assert (task.env, task.files, task.master) == ("staging", ("x.csv",), "not a master URL")
    settings = task.spark_settings()
    assert (settings.env, settings.files, settings.master) == ({}, (), "local[*]")
    assert settings.driver_memory == "2g"
    assert dict(settings.conf) == {"spark.b": "2", "spark.a": "1"}
    spec = task.submit_spec()
    assert "--files" not in build_argv(spec)
    assert "staging" not in spec.env.values()


def test_misspelt_or_ill_typed_override_fails_at_class_definition() -> None:
    with pytest.raises(
        ConfigError,
        match=r"Typo.spark_overrides has 'driver_memroy', which is not a setting; "
        r"did you mean 'driver_memory'\?",
    ):

        class Typo(ExternalSparkScriptTask):
            spark_overrides = {"driver_memroy": "1g"}  # noqa: RUF012

    with pytest.raises(
        ConfigError,
        match=r"Typed.spark_overrides\['timeout'\] = 'soon' is invalid: expected a duration",
    ):

        class Typed(ExternalSparkScriptTask):
            spark_overrides = {"timeout": "soon"}  # noqa: RUF012

    with pytest.raises(
        ConfigError, match=r"\['master'\] = 'locl' is invalid: expected a Spark master URL"
    ):

        class BadMaster(ExternalSparkScriptTask):
            spark_overrides = {"master": "locl"}  # noqa: RUF012


def test_overrides_take_text_like_luigi_cfg() -> None:
    settings = SparkSettings().override(
        {"timeout": "10m", "jars": "/a.jar,/b.jar", "tail_lines": 5}
    )
    assert (settings.timeout, settings.jars, settings.tail_lines) == (
        600.0,
        ("/a.jar", "/b.jar"),
        5,
    )


def test_the_docs_settings_table_lists_exactly_the_declared_spark_settings() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "spark-task.md").read_text(encoding="utf-8")
    table = doc.split("## Settings", 1)[1].split("\n\n| setting |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]]
    assert sorted(rows) == sorted(s.name for s in settings_of(SparkSettings))
    flags = {s.name: s.flag for s in settings_of(SparkSettings) if s.flag}
    for line in table.splitlines()[2:]:
        name = line.split("|")[1].strip().strip("`")
        if name in flags:
            assert f"`{flags[name]}`" in line


def test_a_declared_setting_named_like_a_credential_is_not_refused(cfg: UseConfig) -> None:
    cfg("[spark_script]\nsecret_env = MY_API_TOKEN,JDBC_PASSWORD\nlease_timeout = 2m\n")
    settings = SparkSettings.from_config()
    assert settings.secret_env == ("MY_API_TOKEN", "JDBC_PASSWORD")
    assert settings.lease_timeout == 120.0
