"""Kill points of the scripts' Python writer of local datasets (the classic fast path).

A child process loads the packaged script from its file and replaces a dataset; every call of
``os.open``, ``os.write``, ``os.fsync``, ``os.remove`` (and the others in ``HOOKED``) counts, and
at the k-th call the child SIGKILLs itself (a write first writes half its bytes: a torn write).
For every k: a ``_SUCCESS`` flag means complete data equal to the old or the new rows, as the
scripts' own readers and luigi_ufo's part listing see it; and a rerun completes, leaving only the
new part and its flag (a killed run's temporary file is removed, never read).
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from luigi_ufo.scripts import aggregate_by_state, top_10

from luigi_ufo.dated.paths import is_part_name

SCRIPTS = {"aggregate_by_state": aggregate_by_state, "top_10": top_10}
HOOKED = ("open", "write", "fsync", "remove", "unlink", "rmdir", "replace", "rename", "mkdir")
#: The code both scripts carry (they are standalone files): the copies must not drift apart.
SHARED = (
    "_local_path",
    "_is_connect",
    "classic_conf",
    "plain_local_fs",
    "remove_local_flag",
    "render_csv",
    "_write_synced",
    "_sync_dir",
    "replace_local_dataset",
    "_ship_by_value",
    "absolute_local",
    "one_job_fits",
)
CHILD = """
import importlib.util, json, os, signal, sys
from collections import Counter
spec = importlib.util.spec_from_file_location("script", sys.argv[1])
mod = sys.modules["script"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
kill_at, job = int(sys.argv[2]), json.loads(sys.argv[3])
calls = 0

def hook(name, real):
    def hooked(*args, **kwargs):
        global calls
        calls += 1
        if calls == kill_at:
            if name == "write":
                real(args[0], bytes(args[1])[: max(1, len(args[1]) // 2)])
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return hooked

for name in job["hooked"]:
    setattr(os, name, hook(name, getattr(os, name)))
if job["call"] == "replace":
    mod.replace_local_dataset(job["uri"], tuple(job["header"]), [tuple(r) for r in job["rows"]])
else:
    states, rejected = Counter(job["states"]), Counter(job["rejected"])
    counts = mod.FileCounts(states, rejected, sum(states.values()) + sum(rejected.values()))
    mod.write_outputs(mod.replace_local_dataset, job["output"], job["rejected_output"], counts)
print(json.dumps({"calls": calls}))
"""
Rows = list[list[str]]


def run_child(
    script: str, job: dict[str, Any], kill_at: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run ``job`` in a child with ``script`` loaded from its file; SIGKILL at call ``kill_at``."""
    path = inspect.getfile(SCRIPTS[script])
    argv = [sys.executable, "-c", CHILD, path, str(kill_at), json.dumps({**job, "hooked": HOOKED})]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def spark_style_dataset(directory: Path, header: str, rows: Rows) -> None:
    """Write a dataset as Spark's DataFrame writer leaves it, plus a killed fast run's leftovers."""
    (directory / "_temporary" / "0").mkdir(parents=True)
    part = "part-00000-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901-c000.csv"
    (directory / part).write_text(render(header, rows), encoding="utf-8")
    (directory / f".{part}.crc").write_bytes(b"crc\x00")
    (directory / "_temporary" / "0" / part).write_text(header + "\nZZ,99\n", encoding="utf-8")
    (directory / f"{top_10.TEMP_PREFIX}999-dead").write_text(header + "\nZZ,", encoding="utf-8")
    (directory / "_SUCCESS").write_bytes(b"")
    (directory / "._SUCCESS.crc").write_bytes(b"crc\x00")


def render(header: str, rows: Rows) -> str:
    return header + "\n" + "".join(",".join(row) + "\n" for row in rows)


def dataset_rows(directory: Path) -> Rows | None:
    """Return the rows of a dataset that has its flag (None without one), read as the scripts
    and luigi_ufo read it; a flag over missing data fails."""
    if not (directory / "_SUCCESS").exists():
        return None
    listed = sorted(n for n in os.listdir(directory) if is_part_name(n))
    assert listed, f"{directory} has a _SUCCESS flag but no part file: the flag lies"
    parts = top_10.read_local_parts(str(directory))
    assert [Path(p).name for p, _ in parts] == listed
    assert [Path(p).name for p in aggregate_by_state.list_local_files(str(directory))] == listed
    return [row for _, text in parts for row in list(csv.reader(io.StringIO(text)))[1:]]


def assert_clean(directory: Path, header: str, rows: Rows) -> None:
    """The dataset is the new part and its flag, nothing else (no leftovers of a killed run)."""
    assert sorted(os.listdir(directory)) == ["_SUCCESS", "part-00000.csv"]
    assert (directory / "part-00000.csv").read_text(encoding="utf-8") == render(header, rows)


def count_calls(
    script: str, job: dict[str, Any], make_old: Callable[[Path], None], tmp: Path
) -> int:
    """Return how many hooked calls the job makes from the old datasets to the end."""
    make_old(tmp / "dry")
    dry = run_child(script, with_root(job, tmp / "dry"))
    assert dry.returncode == 0, dry.stderr
    calls = int(json.loads(dry.stdout)["calls"])
    assert calls > 15  # the writes, syncs, removals and the rename are all kill points
    return calls


def kill_at(script: str, job: dict[str, Any], root: Path, k: int) -> None:
    killed = run_child(script, with_root(job, root), kill_at=k)
    assert killed.returncode == -signal.SIGKILL, (k, killed.stdout, killed.stderr)


def rerun(script: str, job: dict[str, Any], root: Path) -> None:
    done = run_child(script, with_root(job, root))
    assert done.returncode == 0, done.stderr


def with_root(job: dict[str, Any], root: Path) -> dict[str, Any]:
    """Return ``job`` with its dataset names as paths under ``root``."""
    names = ("uri", "output", "rejected_output")
    return {k: str(root / v) if k in names else v for k, v in job.items()}


def state_of(rows: Rows | None, old: Rows, new: Rows) -> str:
    """Name what a killed run left: the old rows, the new ones, or no flag."""
    assert rows in (old, new, None), rows
    return "none" if rows is None else "old" if rows == old else "new"


ORDER = ["old", "none", "new"]


@pytest.mark.parametrize(
    ("script", "header"),
    [("top_10", "rank,state,sightings"), ("aggregate_by_state", "state,sightings")],
)
def test_replace_killed_at_every_call_leaves_the_old_data_or_no_flag_and_a_rerun_completes(
    tmp_path: Path, script: str, header: str
) -> None:
    old = [["CA", "9"], ["NV", "4"]] if header == "state,sightings" else [["1", "CA", "9"]]
    new = [["TX", "5"], ["WA", "3"]] if header == "state,sightings" else [["1", "TX", "5"]]
    job = {"call": "replace", "uri": "out", "header": header.split(","), "rows": new}

    def make_old(root: Path) -> None:
        (root / "out").mkdir(parents=True)
        spark_style_dataset(root / "out", header, old)

    seen = []
    for k in range(1, count_calls(script, job, make_old, tmp_path) + 1):
        make_old(tmp_path / f"k{k}")
        kill_at(script, job, tmp_path / f"k{k}", k)
        seen.append(state_of(dataset_rows(tmp_path / f"k{k}" / "out"), old, new))
        rerun(script, job, tmp_path / f"k{k}")
        assert_clean(tmp_path / f"k{k}" / "out", header, new)
    # Killed early the old data stays; then there is no flag; at the last syncs, the new one.
    assert seen == sorted(seen, key=ORDER.index), seen
    assert set(seen) == set(ORDER)


def test_aggregate_outputs_killed_at_every_call_a_states_flag_means_both_are_complete(
    tmp_path: Path,
) -> None:
    old_s, new_s = [["CA", "9"], ["NV", "4"]], [["TX", "5"], ["WA", "3"]]
    old_r = [[r, "1"] for r in aggregate_by_state.REASONS]
    new_r = [[r, str(i)] for i, r in enumerate(aggregate_by_state.REASONS)]
    job = {
        "call": "outputs",
        "output": "by_state",
        "rejected_output": "rejected",
        "states": {"TX": 5, "WA": 3},
        "rejected": {r: int(n) for r, n in new_r},
    }

    def make_old(root: Path) -> None:
        for name, header, rows in (
            ("by_state", "state,sightings", old_s),
            ("rejected", "reason,records", old_r),
        ):
            (root / name).mkdir(parents=True)
            spark_style_dataset(root / name, header, rows)

    seen = []
    for k in range(1, count_calls("aggregate_by_state", job, make_old, tmp_path) + 1):
        root = tmp_path / f"k{k}"
        make_old(root)
        kill_at("aggregate_by_state", job, root, k)
        states = state_of(dataset_rows(root / "by_state"), old_s, new_s)
        rejected = state_of(dataset_rows(root / "rejected"), old_r, new_r)
        if states != "none":
            assert rejected == states, (k, states, rejected)  # the states' flag covers both
        seen.append((states, rejected))
        rerun("aggregate_by_state", job, root)
        assert_clean(root / "by_state", "state,sightings", new_s)
        assert_clean(root / "rejected", "reason,records", new_r)
    # (states, rejected) go through these phases in order, and through each of them.
    phases = [("old", "old"), ("none", "old"), ("none", "none"), ("none", "new"), ("new", "new")]
    assert seen == sorted(seen, key=phases.index), seen
    assert set(seen) == set(phases)


def test_both_scripts_carry_the_same_writer_and_session_checks() -> None:
    for name in SHARED:
        assert inspect.getsource(getattr(top_10, name)) == inspect.getsource(
            getattr(aggregate_by_state, name)
        ), name
    for name in ("PART_NAME", "FLAG_NAME", "TEMP_PREFIX", "_HADOOP_LOCAL_FS"):
        assert getattr(top_10, name) == getattr(aggregate_by_state, name), name


def test_a_temporary_part_is_hidden_from_every_reader(tmp_path: Path) -> None:
    temp = f"{top_10.TEMP_PREFIX}123-abc"
    (tmp_path / temp).write_text("state,sightings\nCA,1\n", encoding="utf-8")
    (tmp_path / "part-00000.csv").write_text("state,sightings\nNV,2\n", encoding="utf-8")
    assert not is_part_name(temp)
    assert [Path(p).name for p, _ in top_10.read_local_parts(str(tmp_path))] == ["part-00000.csv"]
    assert [Path(p).name for p in aggregate_by_state.list_local_files(str(tmp_path))] == [
        "part-00000.csv"
    ]


def test_connect_is_chosen_from_the_environment_as_the_builder_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in ({"SPARK_REMOTE": "sc://localhost:15002"}, {"SPARK_API_MODE": "connect"}):
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            assert top_10.classic_conf() is None
            assert aggregate_by_state.classic_conf() is None
            assert not top_10.fast_path(None, True)
