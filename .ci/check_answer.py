"""Check a ``luigi-ufo --json`` document (or a table's rows) against an independent R1 count.

Usage (from the checkout, in the CI venv):
  python .ci/check_answer.py json DOC.json EXPORT         the document of `run`/`demo` on EXPORT
  python .ci/check_answer.py rows ROWS.json EXPORT         [[state, sightings], ...] by rank

The expected answer comes from tests/ufo_exports.py's counter (the csv module and the 50 states
and DC written out in the tests), never from luigi-ufo's code; for the primary NUFORC file it
must also be the answer its README publishes. Exit status 0 when they agree, else 1.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import ufo_exports
from tests.real_nuforc import PRIMARY, PRIMARY_COUNTED, PRIMARY_TOP


def main(argv: list[str]) -> int:
    kind, document, export = argv[0], Path(argv[1]), Path(argv[2])
    want = ufo_exports.count_file(export)
    published = (PRIMARY_TOP, PRIMARY_COUNTED)
    if export.name == PRIMARY.name and (want.top(10), want.counted) != published:
        print(f"check_answer: {export} does not give its README's R1 answer", file=sys.stderr)
        return 1
    doc = json.loads(document.read_text(encoding="utf-8"))
    problems = []
    if kind == "json":
        got = [(row["state"], row["sightings"]) for row in doc["top"]]
        if [row["rank"] for row in doc["top"]] != list(range(1, len(got) + 1)):
            problems.append(f"ranks {[row['rank'] for row in doc['top']]!r}")
        if doc["counted"] != want.counted:
            problems.append(f"counted {doc['counted']} != {want.counted}")
        if doc["counted"] + sum(doc["rejected"].values()) != want.records:
            problems.append(f"counted + rejected != {want.records} records")
        if +Counter(doc["rejected"]) != want.rejected:
            problems.append(f"rejected {doc['rejected']!r} != {dict(want.rejected)!r}")
    else:
        got = [(state, sightings) for state, sightings in doc]
    if got != want.top(len(got)) or len(got) != min(10, len(want.states)):
        problems.append(f"top {got!r} != {want.top(10)!r}")
    for problem in problems:
        print(f"check_answer: {document}: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_answer: {document}: the R1 answer of {export.name} ({want.counted} counted)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
