"""Kill points of the scripts' Python writer of local datasets (local_lake.replace_dataset).

A child process loads the scripts from their files and replaces a dataset; every call of
``open`` (and of the file's ``write`` and ``close``), ``os.remove``, ``os.rmdir`` (and the others
in ``HOOKED``) counts, and at the k-th call the child SIGKILLs itself (a write first writes half
its bytes: a torn write). For every k: a ``_SUCCESS`` flag means complete data equal to the old
or the new rows, as the scripts' own readers and luigi_ufo's part listing see it; and a rerun
completes, leaving only the new part and its flag.
"""

from __future__ import annotations

import csv
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

from luigi_ufo.dated.paths import is_part_name
from tests.reference_scripts import SCRIPTS, local_lake, nuforc

HOOKED = ("remove", "unlink", "rmdir", "replace", "rename", "mkdir")
CHILD = """
import builtins, json, os, signal, sys
from collections import Counter
sys.path.insert(0, sys.argv[1])
import aggregate_by_state, local_lake, nuforc
kill_at, job = int(sys.argv[2]), json.loads(sys.argv[3])
calls = 0

def tick(name, torn=None):
    global calls
    calls += 1
    if calls == kill_at:
        if torn is not None:
            torn()
        os.kill(os.getpid(), signal.SIGKILL)

def hook(name, real):
    def hooked(*args, **kwargs):
        tick(name)
        return real(*args, **kwargs)
    return hooked

class File:
    def __init__(self, f):
        self.f = f
    def write(self, data):
        tick("write", lambda: (self.f.write(data[: max(1, len(data) // 2)]), self.f.flush()))
        return self.f.write(data)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        tick("close")
        return self.f.__exit__(*exc)
    def __getattr__(self, name):
        return getattr(self.f, name)

real_open = builtins.open
def hooked_open(*args, **kwargs):
    tick("open")
    return File(real_open(*args, **kwargs))

for name in job["hooked"]:
    setattr(os, name, hook(name, getattr(os, name)))
builtins.open = hooked_open
if job["call"] == "replace":
    local_lake.replace_dataset(job["uri"], job["header"], [tuple(r) for r in job["rows"]])
else:
    # What ExternalSparkScriptTask does first (remove_flags), then the script's own writes.
    for name in ("output", "rejected_output"):
        try:
            os.remove(os.path.join(job[name], "_SUCCESS"))
        except FileNotFoundError:
            pass
    states, rejected = Counter(job["states"]), Counter(job["rejected"])
    counts = nuforc.FileCounts(states, rejected, sum(states.values()) + sum(rejected.values()))
    argv = ["--input", "x", "--output", job["output"], "--rejected-output", job["rejected_output"]]
    args = aggregate_by_state.parse(argv)
    aggregate_by_state.aggregate(args, (1, counts), local_lake.replace_dataset)
builtins.open = real_open
print(json.dumps({"calls": calls}))
"""
Rows = list[list[str]]


def run_child(job: dict[str, Any], kill_at: int = 0) -> subprocess.CompletedProcess[str]:
    """Run ``job`` in a child with the scripts loaded from their files; SIGKILL at ``kill_at``."""
    job = {**job, "hooked": HOOKED}
    argv = [sys.executable, "-c", CHILD, str(SCRIPTS), str(kill_at), json.dumps(job)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def spark_style_dataset(directory: Path, header: str, rows: Rows) -> None:
    """Write a dataset as Spark's DataFrame writer leaves it, plus a killed fast run's leftovers."""
    (directory / "_temporary" / "0").mkdir(parents=True)
    part = "part-00000-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901-c000.csv"
    (directory / part).write_text(render(header, rows), encoding="utf-8")
    (directory / f".{part}.crc").write_bytes(b"crc\x00")
    (directory / "_temporary" / "0" / part).write_text(header + "\nZZ,99\n", encoding="utf-8")
    (directory / ".part-00000.csv.tmp").write_text(header + "\nZZ,", encoding="utf-8")
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
    parts = local_lake.read_texts(str(directory))
    assert [Path(p).name for p, _ in parts] == listed
    return [row for _, text in parts for row in list(csv.reader(io.StringIO(text)))[1:]]


def assert_clean(directory: Path, header: str, rows: Rows) -> None:
    """The dataset is the new part and its flag, nothing else (no leftovers of a killed run)."""
    assert sorted(os.listdir(directory)) == ["_SUCCESS", "part-00000.csv"]
    assert (directory / "part-00000.csv").read_text(encoding="utf-8") == render(header, rows)


def count_calls(job: dict[str, Any], make_old: Callable[[Path], None], tmp: Path) -> int:
    """Return how many hooked calls the job makes from the old datasets to the end."""
    make_old(tmp / "dry")
    dry = run_child(with_root(job, tmp / "dry"))
    assert dry.returncode == 0, dry.stderr
    calls = int(json.loads(dry.stdout)["calls"])
    assert calls > 10  # the removals, the opens, the writes and the closes are kill points
    return calls


def kill_at(job: dict[str, Any], root: Path, k: int) -> None:
    killed = run_child(with_root(job, root), kill_at=k)
    assert killed.returncode == -signal.SIGKILL, (k, killed.stdout, killed.stderr)


def rerun(job: dict[str, Any], root: Path) -> None:
    done = run_child(with_root(job, root))
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


@pytest.mark.parametrize("header", ["rank,state,sightings", "state,sightings"])
def test_replace_killed_at_every_call_leaves_the_old_data_or_no_flag_and_a_rerun_completes(
    tmp_path: Path, header: str
) -> None:
    old = [["CA", "9"], ["NV", "4"]] if header == "state,sightings" else [["1", "CA", "9"]]
    new = [["TX", "5"], ["WA", "3"]] if header == "state,sightings" else [["1", "TX", "5"]]
    job = {"call": "replace", "uri": "out", "header": header.split(","), "rows": new}

    def make_old(root: Path) -> None:
        (root / "out").mkdir(parents=True)
        spark_style_dataset(root / "out", header, old)

    seen = []
    for k in range(1, count_calls(job, make_old, tmp_path) + 1):
        make_old(tmp_path / f"k{k}")
        kill_at(job, tmp_path / f"k{k}", k)
        seen.append(state_of(dataset_rows(tmp_path / f"k{k}" / "out"), old, new))
        rerun(job, tmp_path / f"k{k}")
        assert_clean(tmp_path / f"k{k}" / "out", header, new)
    # Killed early the old data stays; then there is no flag; at the last syncs, the new one.
    assert seen == sorted(seen, key=ORDER.index), seen
    assert set(seen) == set(ORDER)


def test_aggregate_outputs_killed_at_every_call_a_states_flag_means_both_are_complete(
    tmp_path: Path,
) -> None:
    old_s, new_s = [["CA", "9"], ["NV", "4"]], [["TX", "5"], ["WA", "3"]]
    old_r = [[r, "1"] for r in nuforc.REASONS]
    new_r = [[r, str(i)] for i, r in enumerate(nuforc.REASONS)]
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
    for k in range(1, count_calls(job, make_old, tmp_path) + 1):
        root = tmp_path / f"k{k}"
        make_old(root)
        kill_at(job, root, k)
        states = state_of(dataset_rows(root / "by_state"), old_s, new_s)
        rejected = state_of(dataset_rows(root / "rejected"), old_r, new_r)
        if states != "none":
            assert rejected == states, (k, states, rejected)  # the states' flag covers both
        seen.append((states, rejected))
        rerun(job, root)
        assert_clean(root / "by_state", "state,sightings", new_s)
        assert_clean(root / "rejected", "reason,records", new_r)
    # (states, rejected) go through these phases in order, and through each of them.
    phases = [("old", "old"), ("none", "old"), ("none", "none"), ("none", "new"), ("new", "new")]
    assert seen == sorted(seen, key=phases.index), seen
    assert set(seen) == set(phases)


def test_hidden_and_underscore_entries_are_no_data_for_any_reader(tmp_path: Path) -> None:
    (tmp_path / ".part-00000.csv.tmp").write_text("state,sightings\nCA,1\n", encoding="utf-8")
    (tmp_path / "_temporary").mkdir()
    (tmp_path / "part-00000.csv").write_text("state,sightings\nNV,2\n", encoding="utf-8")
    assert not is_part_name(".part-00000.csv.tmp")
    assert [Path(p).name for p in local_lake.list_files(str(tmp_path))] == ["part-00000.csv"]


def test_connect_is_chosen_from_the_environment_as_the_builder_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in ({"SPARK_REMOTE": "sc://localhost:15002"}, {"SPARK_API_MODE": "connect"}):
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            assert local_lake.classic_conf() is None
