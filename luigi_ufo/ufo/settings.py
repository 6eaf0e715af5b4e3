"""The reference pipeline's ``[ufo]`` section; its lake is ``[lake] root``, else the data dir's."""

from __future__ import annotations

from dataclasses import dataclass, field

from luigi_ufo.dated.lake import lake_root
from luigi_ufo.paths import data_dir
from luigi_ufo.settings.fields import check_fields, setting
from luigi_ufo.settings.sections import config_section, read_section
from luigi_ufo.uris import absolute

SECTION = "ufo"


def _fraction(value: float) -> str | None:
    return (
        None if 0.0 <= value <= 1.0 else "from 0 to 1, e.g. 1.0 (fail only when all are rejected)"
    )


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "at least 1, e.g. 10"


@dataclass(frozen=True)
class UfoSettings:
    """Resolved ``[ufo]`` values (the reference pipeline's own section).

    ``lake`` is no setting of ``[ufo]``: :meth:`from_config` resolves it from ``[lake] root``,
    else ``<data dir>/lake``.
    """

    encoding: str = setting("utf-8", "export encoding, e.g. cp1252")
    delimiter: str = setting(",", "export delimiter: ',' or 'tab'")
    country_rule: str = setting(
        "us-or-blank",
        "Kaggle layout: which country values a US state code counts with",
        choices=("us-or-blank", "us", "any"),
    )
    decode_errors: str = setting(
        "strict",
        "strict: fail on undecodable bytes; replace: count them as rejected",
        choices=("strict", "replace"),
    )
    state_column: str = setting("", "state column name (case and spaces ignored); default 'state'")
    country_column: str = setting(
        "", "country column name; default 'country' or 'country_code' if present, else none"
    )
    top: int = setting(10, "N of the top-N states", check=_at_least_one)
    ties: str = setting(
        "cut",
        "cut: exactly N states (count desc, then code), those tied at the cut listed as left "
        "out; include: every state tied at the N-th count, with equal ranks "
        "(table ufo_top_states_with_ties)",
        choices=("cut", "include"),
    )
    max_rejected_fraction: float = setting(
        1.0,
        "fail, loading nothing, when more than this share of the records is rejected; "
        "1.0: only when all are",
        check=_fraction,
    )
    lake: str = field(default="")

    def __post_init__(self) -> None:
        check_fields(self, f"[{SECTION}]")

    @classmethod
    def from_config(cls) -> UfoSettings:
        """Read ``[ufo]`` now, and the lake (:func:`ufo_lake`)."""
        return cls(**read_section(SECTION), lake=ufo_lake())

    def dataset(self, name: str) -> str:
        """Return the root URI of dataset ``name`` (``raw``, ``by_state``, ...) in the lake."""
        return ufo_dataset(name, self.lake)


def ufo_lake() -> str:
    """Return the pipeline's lake: ``[lake] root``, else ``<data dir>/lake`` (not ``[ufo]``)."""
    return lake_root() or absolute(str(data_dir() / "lake"))


def ufo_dataset(name: str, lake: str = "") -> str:
    """Return the root URI of dataset ``name`` in ``lake`` (default: :func:`ufo_lake`)."""
    return f"{lake or ufo_lake()}/ufo/{name}"


#: ``[ufo]``: the luigi.Config section of UfoSettings.
ufo = config_section(SECTION, UfoSettings)
