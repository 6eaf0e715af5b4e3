"""The real NUFORC files (never shipped) and the answers their README publishes.

They live in ``../shared/data/ufo`` beside the checkout (or beside the directory holding a git
worktree of it), or wherever ``LUIGI_UFO_NUFORC_DIR`` says (a clone in the temp dir, a CI
machine). A test needing one calls :func:`real_file`: it skips, saying where the file was looked
for, or fails under ``LUIGI_UFO_TEST_STRICT=1`` (``.ci/run``), which requires the files.
"""

from __future__ import annotations

import os
from pathlib import Path

from luigi_ufo.testing import missing

DATA_ENV = "LUIGI_UFO_NUFORC_DIR"
_CHECKOUT = Path(__file__).resolve().parents[1]


def nuforc_dir() -> Path:
    """Return the directory of the real files: ``$LUIGI_UFO_NUFORC_DIR``, else ../shared's."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    beside = [p / "shared" / "data" / "ufo" for p in _CHECKOUT.parents[:3]]
    return next((p for p in beside if p.is_dir()), beside[0])


PRIMARY = nuforc_dir() / "ufon_raw_2019-03-21.csv.gz"
KAGGLE = nuforc_dir() / "kaggle_scrubbed_5col.csv.gz"

#: The primary file's top 11 by rule R1, as its README's reference table gives it (NC is 11th).
PRIMARY_TOP_11 = [
    ("CA", 13_513), ("FL", 6_498), ("WA", 5_884), ("TX", 4_945), ("NY", 4_679),
    ("AZ", 4_009), ("PA", 3_873), ("IL", 3_601), ("OH", 3_553), ("MI", 2_990),
    ("NC", 2_942),
]  # fmt: skip
PRIMARY_TOP = PRIMARY_TOP_11[:10]
#: Rows of the primary file with one of the 50 states or DC; CSV records after the header.
PRIMARY_COUNTED, PRIMARY_RECORDS = 105_193, 119_727


def real_file(path: Path) -> Path:
    """Return ``path`` if it exists; else skip (fail under LUIGI_UFO_TEST_STRICT) saying so."""
    if not path.is_file():
        missing(
            f"real NUFORC data {str(path)!r} is absent: put ../shared/data/ufo beside the "
            f"checkout or set {DATA_ENV}"
        )
    return path
