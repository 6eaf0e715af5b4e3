"""``luigi_ufo.dated`` works on a local root without boto3 installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_dated_imports_and_works_without_boto3(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("boto3", "botocore"):
                    raise ImportError("blocked " + name)
                return None

        sys.meta_path.insert(0, Block())
        import datetime
        from luigi_ufo.dated import DatedTarget

        t = DatedTarget({str(tmp_path)!r}, datetime.date(2024, 1, 15))
        with t.writer() as w:
            w.write_text("part-0.csv", "a\\n")
        assert t.exists() and type(t) is DatedTarget
        assert not any(m.split(".")[0] in ("boto3", "botocore") for m in sys.modules)
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
