"""``pip install 'luigi-ufo[all]'`` gives every mode and base class what it needs."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"
#: The extras a user's pipeline runs on; [all] must cover each ([test], [lint], ... are for us).
RUNTIME = ("spark", "connect", "s3", "postgres", "columnar", "embedded", "report")


def extras() -> dict[str, set[str]]:
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    found = {}
    for extra, value in parser["options.extras_require"].items():
        lines = [line.split("#")[0].strip() for line in value.splitlines()]
        found[extra] = {re.split(r"[<>=!~\[; ]", line)[0].lower() for line in lines if line}
    return found


def test_all_has_every_package_of_the_runtime_extras_connect_mode_included() -> None:
    declared = extras()
    assert set(RUNTIME) <= set(declared)
    missing = {extra: declared[extra] - declared["all"] for extra in RUNTIME}
    assert {extra: names for extra, names in missing.items() if names} == {}
