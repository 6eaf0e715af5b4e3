"""One declaration per setting: a dataclass field carrying its default, doc, form and flag.

A settings value class (``SparkSettings``, ``S3Settings``, ...) is a frozen dataclass whose
fields are declared with :func:`setting`. Everything else is derived from those fields: the
``luigi.Config`` section (:func:`luigi_ufo.settings.sections.config_section`), the parsing of
text from luigi.cfg and the command line, the checking of task-level overrides, and for Spark the
spark-submit argv. The type of a setting is its annotation; ``form`` refines it.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from luigi_ufo.errors import ConfigError

#: A check returns None when the value is fine, else what is wrong with it ("must be ...").
Check = Callable[[Any], "str | None"]

_META = "luigi_ufo.settings.fields"
_SETTINGS: dict[type[Any], tuple[Setting, ...]] = {}
_KINDS = {
    "str": "text",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "tuple[str, ...]": "list",
    "Mapping[str, str]": "dict",
}
_EXPECTED = {
    "text": "text",
    "int": "a whole number, e.g. 10",
    "float": "a number, e.g. 2.5",
    "duration": "a duration: seconds (90) or a number with s, m or h (90s, 10m, 1h)",
    "bool": "true or false",
    "list": 'a comma-separated list (a.jar,b.jar) or a JSON list (["a.jar", "b.jar"])',
    "dict": 'a JSON object, e.g. {"spark.sql.shuffle.partitions": "4"}',
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|m|min|h)?", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


class InvalidValue(Exception):
    """A value does not have the form of its setting; ``expected`` says the form."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True)
class Setting:
    """What a declared field says about itself."""

    name: str
    kind: str
    optional: bool
    default: Any
    doc: str
    flag: str | None
    choices: tuple[str, ...]
    check: Check | None
    merge: bool

    @property
    def expected(self) -> str:
        """The accepted form, for error messages and docs."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        text = _EXPECTED[self.kind]
        return f"{text}, or empty for unset" if self.optional and self.kind != "text" else text

    def parse(self, text: str) -> Any:
        """Parse text from luigi.cfg or the command line; raise InvalidValue."""
        stripped = text.strip()
        if self.optional and stripped == "":
            return None
        value = _PARSERS[self.kind](self, stripped)
        self.validate(value)
        return value

    def coerce(self, value: Any) -> Any:
        """Check a Python value (a task-level override); text is parsed like luigi.cfg's."""
        if value is None and self.optional:
            return None
        if isinstance(value, str) and self.kind not in ("text", "choice"):
            return self.parse(value)
        value = _COERCERS[self.kind](self, value)
        self.validate(value)
        return value

    def validate(self, value: Any) -> None:
        """Raise InvalidValue if ``value`` fails the setting's choices or check."""
        if value is None and self.optional:
            return
        if self.kind == "choice" and value not in self.choices:
            raise InvalidValue(self.expected)
        if self.check is not None:
            problem = self.check(value)
            if problem is not None:
                raise InvalidValue(problem)


def setting(
    default: Any,
    doc: str,
    *,
    flag: str | None = None,
    form: str | None = None,
    choices: Iterable[str] = (),
    check: Check | None = None,
    merge: bool = False,
    repr: bool = True,
) -> Any:
    """Declare a settings field: ``name: type = setting(default, "doc", flag="--x")``.

    ``form="duration"`` reads seconds written as ``90``, ``90s``, ``10m`` or ``1h``;
    ``choices`` restricts text; ``check`` refines any value; ``merge`` makes a task-level
    mapping override merge key by key instead of replacing.
    """
    meta = {
        _META: {
            "doc": doc,
            "flag": flag,
            "form": form,
            "choices": tuple(choices),
            "check": check,
            "merge": merge,
        }
    }
    if isinstance(default, dict):
        frozen = dict(default)
        return dataclasses.field(default_factory=lambda: dict(frozen), metadata=meta, repr=repr)
    return dataclasses.field(default=default, metadata=meta, repr=repr)


def settings_of(value_class: type[Any]) -> tuple[Setting, ...]:
    """Return the declared settings of a dataclass, in declaration order."""
    found = _SETTINGS.get(value_class)
    if found is None:
        found = _SETTINGS[value_class] = _declared(value_class)
    return found


def _declared(value_class: type[Any]) -> tuple[Setting, ...]:
    found: list[Setting] = []
    for f in dataclasses.fields(value_class):
        meta = f.metadata.get(_META)
        if meta is None:
            continue
        annotation = str(f.type).replace(" ", "")
        optional = annotation.endswith("|None")
        base = annotation.removesuffix("|None")
        kind = meta["form"] or ("choice" if meta["choices"] else _KINDS[_spaced(base)])
        default = f.default
        if default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        found.append(
            Setting(
                name=f.name,
                kind=kind,
                optional=optional,
                default=default,
                doc=meta["doc"],
                flag=meta["flag"],
                choices=meta["choices"],
                check=meta["check"],
                merge=meta["merge"],
            )
        )
    return tuple(found)


def settings_by_name(value_class: type[Any]) -> dict[str, Setting]:
    """Return the declared settings of a dataclass by name."""
    return {s.name: s for s in settings_of(value_class)}


def closest(name: str, names: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """Return the closest of ``names`` to ``name`` (difflib), if any is close enough."""
    matches = difflib.get_close_matches(name, list(names), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest of ``names``, or an empty string."""
    match = closest(name, names)
    return f"; did you mean {match!r}?" if match else ""


def check_fields(obj: Any, where: str) -> None:
    """Validate every declared field of a settings object; ``where`` names it in errors."""
    for s in settings_of(type(obj)):
        value = getattr(obj, s.name)
        try:
            s.validate(value)
        except InvalidValue as exc:
            raise ConfigError(f"{where} {s.name} = {value!r} is invalid: {exc.expected}") from None


def apply_overrides(
    base: Any, overrides: Mapping[str, Any], where: str, *, section: str = ""
) -> Any:
    """Return ``base`` with ``overrides`` applied by name; ``where`` names the mapping."""
    known = settings_by_name(type(base))
    changes: dict[str, Any] = {}
    for name, raw in overrides.items():
        s = known.get(name)
        if s is None:
            raise ConfigError(
                f"{where} has {name!r}, which is not a setting{did_you_mean(name, known)}; "
                f"settings: {', '.join(known)}"
            )
        try:
            value = s.coerce(raw)
        except InvalidValue as exc:
            raise ConfigError(
                f"{where}[{name!r}] = {raw!r} is invalid: expected {exc.expected}"
            ) from None
        if s.merge and value is not None:
            value = {**getattr(base, name), **value}
        changes[name] = value
    return dataclasses.replace(base, **changes)


def _spaced(annotation: str) -> str:
    return annotation.replace(",", ", ")


def _text(s: Setting, text: str) -> Any:
    return text


def _int(s: Setting, text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        raise InvalidValue(s.expected) from None


def _float(s: Setting, text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        raise InvalidValue(s.expected) from None


def _duration(s: Setting, text: str) -> Any:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise InvalidValue(s.expected)
    number, unit = match.groups()
    return float(number) * _SECONDS[(unit or "s").lower()]


def _bool(s: Setting, text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise InvalidValue(s.expected)


def _list(s: Setting, text: str) -> Any:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidValue(s.expected) from None
        return _coerce_list(s, items)
    # spark-submit's own spelling of these lists: comma-separated.
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _dict(s: Setting, text: str) -> Any:
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidValue(s.expected) from None
    return _coerce_dict(s, items)


def _coerce_text(s: Setting, value: Any) -> Any:
    if not isinstance(value, str):
        raise InvalidValue(s.expected)
    return value


def _coerce_int(s: Setting, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(s.expected)
    return value


def _coerce_float(s: Setting, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidValue(s.expected)
    return float(value)


def _coerce_bool(s: Setting, value: Any) -> Any:
    if not isinstance(value, bool):
        raise InvalidValue(s.expected)
    return value


def _coerce_list(s: Setting, value: Any) -> Any:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidValue(s.expected)
    items = tuple(value)
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in items):
        raise InvalidValue(s.expected)
    return tuple(str(v) for v in items)


def _coerce_dict(s: Setting, value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise InvalidValue(s.expected)
    if not all(isinstance(v, (str, int, float, bool)) for v in value.values()):
        raise InvalidValue(s.expected + " with text or number values")
    return {str(k): _scalar(v) for k, v in value.items()}


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


_PARSERS: dict[str, Callable[[Setting, str], Any]] = {
    "text": _text,
    "choice": _text,
    "int": _int,
    "float": _float,
    "duration": _duration,
    "bool": _bool,
    "list": _list,
    "dict": _dict,
}
_COERCERS: dict[str, Callable[[Setting, Any], Any]] = {
    "text": _coerce_text,
    "choice": _coerce_text,
    "int": _coerce_int,
    "float": _coerce_float,
    "duration": _coerce_float,
    "bool": _coerce_bool,
    "list": _coerce_list,
    "dict": _coerce_dict,
}
