"""luigi.Config sections derived from settings value classes, and luigi.cfg validation.

Each value class (``SparkSettings``, ``S3Settings``, ...) declares its fields once with
:func:`luigi_ufo.settings.fields.setting`; :func:`config_section` turns it into a real
``luigi.Config`` (so ``--spark_script-master yarn`` and luigi's own tooling work), read when a task
runs, never at import. Before luigi reads a section, the whole section is checked: unknown keys are
refused with the closest valid key, values are parsed with errors naming section, key, value and
the expected form, credentials are refused by name and by shape without echoing them
(:mod:`luigi_ufo.secrets`), and a section named like one of ours but misspelt is warned about.
Secrets (AWS keys, PostgreSQL passwords, Spark secrets, the Connect token) are never configuration
values: they come from the environment, the boto3 credential chain, ``.pgpass`` or a private file.
"""

from __future__ import annotations

import configparser
import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import luigi
import luigi.freezing

from luigi_ufo.errors import ConfigError, ConfigWarning
from luigi_ufo.secrets import hint_for, is_credential_name, refuse, refuse_credentials
from luigi_ufo.settings.fields import (
    InvalidValue,
    Setting,
    closest,
    did_you_mean,
    settings_by_name,
    settings_of,
)


@dataclass(frozen=True)
class Section:
    """A registered section: its name, its value class and the derived ``luigi.Config``."""

    name: str
    value_class: type[Any]
    config_class: type[luigi.Config]


#: Every section registered so far, by name: each package's ``settings`` module registers its
#: own when imported; this package imports none of them.
SECTIONS: dict[str, Section] = {}


def config_section(name: str, value_class: type[Any]) -> Any:
    """Register section ``name``: a ``luigi.Config`` class with one parameter per setting."""
    attrs: dict[str, Any] = {
        "__module__": value_class.__module__,
        "__doc__": f"``[{name}]``: the settings of {value_class.__name__}.",
        "get_param_values": classmethod(_get_param_values),
    }
    for s in settings_of(value_class):
        attrs[s.name] = _parameter(s, name)
    cls = type(name, (luigi.Config,), attrs)
    SECTIONS[name] = Section(name=name, value_class=value_class, config_class=cls)
    return cls


def read_section(name: str) -> dict[str, Any]:
    """Return section ``name``'s values (command line, luigi.cfg, default)."""
    section = SECTIONS[name]
    instance = section.config_class()
    return {s.name: _plain(getattr(instance, s.name)) for s in settings_of(section.value_class)}


def check_all_sections() -> None:
    """Read every section registered so far now, raising the first ConfigError.

    A caller imports the settings modules of the packages it uses first (the CLI does, before
    any service starts), so their sections are registered.
    """
    for name in SECTIONS:
        read_section(name)


def check_config(name: str) -> None:
    """Check section ``name`` in luigi's configuration now."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    warn_misspelt_sections(config)
    if config.has_section(name):
        _check_keys(config, SECTIONS[name])


def warn_misspelt_sections(config: Any) -> None:
    """Warn once about each section whose name is close to, but not, one of ours."""
    ours = set(SECTIONS)
    tasks = set(luigi.task_register.Register._get_reg())  # type: ignore[no-untyped-call]
    for name in config.sections():
        if name in ours or name in tasks:
            continue
        match = closest(name.lower(), ours, cutoff=0.8)
        if match is not None:
            warnings.warn(
                ConfigWarning(
                    f"luigi.cfg section [{name}] is not a luigi-ufo section and is ignored; "
                    f"did you mean [{match}]?"
                ),
                stacklevel=2,
            )


def _check_keys(config: Any, section: Section) -> None:
    present = section.name
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
                f"(settings of [{present}]: {', '.join(known)})"
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


def _parameter(s: Setting, section: str) -> Any:
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
    return parameter_class(default=s.default, description=s.doc)


def _plain(value: Any) -> Any:
    if isinstance(value, luigi.freezing.FrozenOrderedDict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


def configured(section: str, keys: tuple[str, ...]) -> bool:
    """Tell whether luigi's configuration sets any of ``keys`` in ``section``."""
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    return any(config.has_option(section, key) for key in keys)


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
