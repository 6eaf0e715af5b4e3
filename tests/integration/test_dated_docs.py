"""Execute the Python examples of docs/dated-targets.md."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import pytest

from luigi_ufo.s3 import S3Settings
from luigi_ufo.s3.client import make_client

pytestmark = [pytest.mark.integration, pytest.mark.docs]

DOC = Path(__file__).resolve().parents[2] / "docs" / "dated-targets.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_local_and_s3_examples() -> None:
    blocks = python_blocks()
    assert len(blocks) == 4
    assert "lake_target" in blocks[0]
    assert "RangeDaily" in blocks[1]
    assert "lineage_status" in blocks[2]
    assert "S3DatedTarget" in blocks[3]


def test_the_examples_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: str,
    luigi_config: Callable[[str, str, str], None],
) -> None:
    monkeypatch.chdir(tmp_path)
    luigi_config("lake", "root", "s3://my-bucket/lake")
    client = make_client(S3Settings(endpoint_url=s3_endpoint, path_style=True))
    client.create_bucket(Bucket="my-lake")
    namespace: dict[str, Any] = {"__name__": "dated_targets_doc", "S3_ENDPOINT": s3_endpoint}
    try:
        for block in python_blocks():
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the docs' own code
    finally:
        keys = client.list_objects_v2(Bucket="my-lake").get("Contents", [])
        for item in keys:
            client.delete_object(Bucket="my-lake", Key=item["Key"])
        client.delete_bucket(Bucket="my-lake")
        luigi.task_register.Register.clear_instance_cache()
    assert (tmp_path / "lake/clicks/2024-01-07/_SUCCESS").exists()
    views = namespace["PageViews"](date=datetime.date(2024, 1, 15)).output()
    assert views.uri == "s3://my-bucket/lake/page_views/2024-01-15/"
