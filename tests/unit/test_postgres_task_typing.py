"""A user's PostgresTopNTask subclass type-checks under mypy strict with luigi's mypy plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USER_MODULE = '''
import datetime

import luigi

from luigi_ufo.postgres import PostgresTopNTask


class TopWords(PostgresTopNTask):
    """Written as docs/postgres-topn.md shows it."""

    date = luigi.DateParameter()
    table = "words.top_words"
    n = 5
    rank_by = "count"
    key_columns = ("word",)
    group_by = ("lang",)
    ties = "with_ties"
    partition_columns = {"day": "date"}
    column_types = {"word": "text", "count": "bigint"}
    rank_column = "position"
    skip_bad_rows = True
    lock_partition = False
    marker_table = "words.markers"


class TypedTopWords(PostgresTopNTask):
    """With an annotated parameter, luigi's plugin checks the constructor's arguments."""

    date: datetime.date = luigi.DateParameter()
    table = "words.top_words"
    rank_by = "count"


day = datetime.date(2024, 1, 7)
TopWords(date=day)
same_day: datetime.date = TypedTopWords(date=day).date
# The declarations are not constructor arguments, so mypy rejects this call (strict mode's
# warn_unused_ignores fails the check if it does not).
TypedTopWords(date=day, table="other")  # type: ignore[call-arg]
'''


def test_user_subclass_with_own_date_parameter_passes_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "top_words.py").write_text(textwrap.dedent(USER_MODULE), encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(
        f"[mypy]\nstrict = true\nplugins = luigi.mypy\nmypy_path = {ROOT}\n", encoding="utf-8"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "top_words.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout
