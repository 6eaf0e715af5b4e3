"""luigi.Config sections derived from settings value classes, and luigi.cfg validation.

Each value class (``SparkSettings``, ``S3Settings``, ...) declares its fields once with
:func:`luigi_ufo.setting.setting`; :func:`config_section` turns it into a real ``luigi.Config``
(so ``--spark_script-master yarn`` and luigi's own tooling work), read when a task runs, never at
import. Before luigi reads a section, the whole section is checked: unknown keys are refused with
the closest valid key, values are parsed with errors naming section, key, value and the expected
form, credentials are refused by name and by shape without echoing them
(:mod:`luigi_ufo.secrets`), and a section named like one of ours but misspelt is warned about.
Secrets (AWS keys, PostgreSQL passwords, Spark secrets, the Connect token) are never configuration
values: they come from the environment, the boto3 credential chain, ``.pgpass`` or a private file.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import luigi
import luigi.freezing

from luigi_ufo.errors import ConfigError, ConfigWarning
from luigi_ufo.secrets import hint_for, is_credential_name, refuse, refuse_credentials
from luigi_ufo.setting import (
    InvalidValue,
    Setting,
    closest,
    did_you_mean,
    settings_by_name,
    settings_of,
)

logger = logging.getLogger("luigi_ufo.config")


@dataclass(frozen=True)
class Section:
    """A registered section: its value class and the name it had before, if renamed."""

    name: str
    value_class: type[Any]
    was: str | None
    config_class: type[luigi.Config]


#: Every section derived here, by name.
SECTIONS: dict[str, Section] = {}
_warned: set[str] = set()


def config_section(name: str, value_class: type[Any], *, was: str | None = None) -> Any:
    """Return a ``luigi.Config`` class ``name`` with one parameter per declared setting.

    ``was`` is the section's former name: still read (luigi warns with a DeprecationWarning
    naming the new section), the new section winning key by key.
    """
    attrs: dict[str, Any] = {
        "__module__": value_class.__module__,
        "__doc__": f"``[{name}]``: the settings of {value_class.__name__}.",
        "get_param_values": classmethod(_get_param_values),
    }
    for s in settings_of(value_class):
        attrs[s.name] = _parameter(s, name, was)
    cls = type(name, (luigi.Config,), attrs)
    SECTIONS[name] = Section(name=name, value_class=value_class, was=was, config_class=cls)
    return cls


def read_section(name: str) -> dict[str, Any]:
    """Return section ``name``'s values (command line, luigi.cfg, former name, default)."""
    section = SECTIONS[name]
    instance = section.config_class()
    return {s.name: _plain(getattr(instance, s.name)) for s in settings_of(section.value_class)}


def check_all_sections() -> None:
    """Read every luigi-ufo section now, raising the first ConfigError (before any service)."""
    import luigi_ufo.dated.lake
    import luigi_ufo.postgres.connection
    import luigi_ufo.s3.settings
    import luigi_ufo.spark.settings
    import luigi_ufo.ufo.settings  # noqa: F401 - each import registers its section

    for name in SECTIONS:
        read_section(name)


def check_config(name: str) -> None:
    """Check section ``name`` (and its former name) in luigi's configuration now."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    warn_misspelt_sections(config)
    section = SECTIONS[name]
    for present in (section.name, section.was):
        if present and config.has_section(present):
            _check_keys(config, present, section)
    if section.was and config.has_section(section.was) and section.was not in _warned:
        _warned.add(section.was)
        # DeprecationWarning is hidden by default outside __main__: say it in the log too.
        logger.warning("luigi.cfg section [%s] is deprecated: rename it to [%s]", section.was, name)


def warn_misspelt_sections(config: Any) -> None:
    """Warn once about each section whose name is close to, but not, one of ours."""
    ours = {s.name: s.name for s in SECTIONS.values()}
    ours.update({s.was: s.name for s in SECTIONS.values() if s.was})
    tasks = set(luigi.task_register.Register._get_reg())  # type: ignore[no-untyped-call]
    for name in config.sections():
        if name in ours or name in tasks:
            continue
        match = closest(name.lower(), ours, cutoff=0.8)
        if match is not None:
            new = ours[match]
            warnings.warn(
                ConfigWarning(
                    f"luigi.cfg section [{name}] is not a luigi-ufo section and is ignored; "
                    f"did you mean [{new}]?"
                ),
                stacklevel=2,
            )


def _check_keys(config: Any, present: str, section: Section) -> None:
    known = settings_by_name(section.value_class)
    defaults = set(config.defaults())
    for raw_key in config.options(present):
        if raw_key in defaults:
            continue
        key = raw_key.replace("-", "_")
        s = known.get(key)
        if s is None and is_credential_name(key):
            refuse(f"[{present}]", f"has key {key!r}", hint_for(present, key))
        if s is None:
            raise ConfigError(
                f"[{present}] {key} is not a setting{did_you_mean(key, known)} "
                f"(settings of [{section.name}]: {', '.join(known)})"
            )
        try:
            text = config.get(present, raw_key)
        except configparser.InterpolationError:
            raw = config.get(present, raw_key, raw=True)
            raise ConfigError(
                f"[{present}] {key} = {raw!r} cannot be read: luigi.cfg treats '%' as the start "
                "of an interpolation; write a literal '%' as '%%'"
            ) from None
        # By shape before parsing: a parse error must not be what shows a credential.
        refuse_credentials(f"[{present}] {key}", text, hint_for(present, key))
        value = _parse(s, text, f"[{present}] {key}")
        refuse_credentials(f"[{present}] {key}", value, hint_for(present, key))


def _parse(s: Setting, text: str, where: str) -> Any:
    try:
        return s.parse(text)
    except InvalidValue as exc:
        raise ConfigError(f"{where} = {text!r} is invalid: expected {exc.expected}") from None


def _get_param_values(cls: Any, params: Any, args: Any, kwargs: Any) -> Any:
    # Where luigi reads the section, and would warn (echoing the value) about unknown keys.
    check_config(cls.get_task_family())
    try:
        return luigi.Config.get_param_values.__func__(cls, params, args, kwargs)  # type: ignore[attr-defined]
    except ValueError as exc:
        if isinstance(exc.__cause__, ConfigError):
            raise exc.__cause__ from None
        raise


_BASES: dict[str, type[Any]] = {
    "bool": luigi.BoolParameter,
    "list": luigi.ListParameter,
    "dict": luigi.DictParameter,
}


def _parameter(s: Setting, section: str, was: str | None) -> Any:
    base = _BASES.get(s.kind, luigi.Parameter)

    def parse(self: luigi.Parameter, x: Any) -> Any:
        if not isinstance(x, str):
            return x  # luigi hands BoolParameter's command-line flag in as True
        flag = f"--{section}-{s.name}".replace("_", "-")  # how luigi spells it
        return _parse(s, x, f"[{section}] {s.name} (or {flag})")

    def normalize(self: luigi.Parameter, x: Any) -> Any:
        if s.kind in ("list", "dict"):
            return luigi.freezing.recursively_freeze(x)  # type: ignore[no-untyped-call]
        return x

    parameter_class = type(
        f"{base.__name__}For_{s.name}", (base,), {"parse": parse, "normalize": normalize}
    )
    kwargs: dict[str, Any] = {"default": s.default, "description": s.doc}
    if was:
        kwargs["config_path"] = {"section": was, "name": s.name}
    return parameter_class(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, luigi.freezing.FrozenOrderedDict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


@contextlib.contextmanager
def config_overrides() -> Iterator[Callable[[str, str, str], None]]:
    """Yield ``set(section, key, value)`` for luigi's configuration; undo every change after."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    undo: list[Callable[[], None]] = []

    def set_option(section: str, key: str, value: str) -> None:
        if not config.has_section(section):
            config.add_section(section)
            undo.append(lambda: config.remove_section(section))
        elif config.has_option(section, key):
            old = config.get(section, key, raw=True)
            undo.append(lambda: config.set(section, key, old))
        else:
            undo.append(lambda: config.remove_option(section, key))
        config.set(section, key, value)

    try:
        yield set_option
    finally:
        for step in reversed(undo):
            step()
