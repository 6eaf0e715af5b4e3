"""The ``[lake]`` section: where a project's dated datasets live."""

from __future__ import annotations

from dataclasses import dataclass

from luigi_ufo.settings.fields import setting
from luigi_ufo.settings.sections import config_section, read_section

__all__ = ["LakeSettings", "lake"]

SECTION = "lake"


@dataclass(frozen=True)
class LakeSettings:
    """The ``[lake]`` section."""

    root: str | None = setting(
        None, "root of the dated datasets: a directory or s3://bucket/prefix"
    )

    @classmethod
    def from_config(cls) -> LakeSettings:
        """Read ``[lake]`` now (command line, luigi.cfg / LUIGI_CONFIG_PATH)."""
        return cls(**read_section(SECTION))


#: ``[lake]``: the luigi.Config section of LakeSettings.
lake = config_section(SECTION, LakeSettings)
