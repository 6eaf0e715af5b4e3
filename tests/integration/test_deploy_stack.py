"""deploy/: the compose recipe built with secrets lying around, scanned, brought up and run.

The image is built by ``deploy/build`` from a copy of this checkout in which canary secrets lie
where careless builds pick them up (``.env``, key files, ``.aws/``, the home directory, the
environment); the saved image must hold none of them. The stack then runs the reference
pipeline for two dates with two Luigi workers through its luigid on its Spark cluster, into its
PostgreSQL, and is torn down with nothing left. Runs in the Docker leg (.ci/docker-leg, which
passes the local images); elsewhere deselected (the ``docker`` marker, tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from luigi_ufo.testing import missing
from luigi_ufo.ufo.sample import SampleSummary, write_sample
from tests.image_scan import secrets_in_saved_image
from tests.integration.test_ufo_pipeline import expected_top

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "deploy" / "compose.yaml"
DATES = {"2024-02-01": 1, "2024-02-02": 2}
FAMILIES = ("ImportUFOExport", "AggregateUFOsByState", "TopTenStates", "TopStatesToDatabase")


def compose_version() -> str | None:
    """Return ``docker compose version``'s answer, or None without Compose v2."""
    try:
        found = subprocess.run(
            ["docker", "compose", "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() if found.returncode == 0 else None


@pytest.fixture(scope="module")
def engine() -> None:
    """Require Compose v2 (selected only in the Docker leg, whose engine must answer)."""
    if compose_version() is None:
        missing("`docker compose` (Compose v2) is missing; .ci/docker-leg prepare installs it")


def plant_canaries(root: Path, home: Path, canary: str) -> None:
    """Leave ``canary`` where a build might pick it up: in the checkout and the home directory."""
    key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{canary}\n-----END OPENSSH PRIVATE KEY-----\n"
    planted = {
        root / ".env": f"AWS_SECRET_ACCESS_KEY={canary}\n",
        root / "deploy" / ".env": f"PGPASSWORD={canary}\n",
        root / "deploy" / "secrets" / "postgres_password": canary,
        root / "deploy" / "id_rsa": key,
        root / "luigi_ufo" / "server.pem": key.replace("OPENSSH", "RSA"),
        root / "luigi_ufo" / ".aws" / "credentials": f"aws_secret_access_key = {canary}\n",
        root / ".boto": f"[Credentials]\naws_secret_access_key = {canary}\n",
        home / ".aws" / "credentials": f"[default]\naws_secret_access_key = {canary}\n",
        home / ".ssh" / "id_rsa": key,
        home / ".pgpass": f"*:*:*:*:{canary}\n",
    }
    for path, text in planted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def copy_checkout(dest: Path) -> None:
    """Copy this checkout's files (tracked and untracked, not ignored) to ``dest``."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


@dataclass(frozen=True)
class Built:
    tag: str
    canary: str
    seconds: float


@pytest.fixture(scope="module")
def built(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Build the image from a checkout copy full of canaries; remove it at the end."""
    canary = "luigi-ufo-canary-" + secrets.token_hex(12)
    root = tmp_path_factory.mktemp("checkout")
    home = tmp_path_factory.mktemp("home")
    copy_checkout(root)
    plant_canaries(root, home, canary)
    pip_cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    tag = f"luigi-ufo-test/deploy:{secrets.token_hex(6)}"
    env = {
        **os.environ,
        "HOME": str(home),
        "PIP_CACHE_DIR": pip_cache,  # the host's cache, not the canary home's empty one
        "AWS_SECRET_ACCESS_KEY": canary,
        "PGPASSWORD": canary,
        "LUIGI_UFO_CANARY": canary,
        "DOCKER_CONFIG": os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker")),
    }
    base = os.environ.get("LUIGI_UFO_BASE_IMAGE") or "debian:bookworm-slim"
    argv = ["bash", str(root / "deploy" / "build"), "--base", base, "--tag", tag]
    start = time.monotonic()
    result = subprocess.run(
        [*argv, "--python", sys.executable], env=env, capture_output=True, text=True, timeout=1200
    )
    seconds = time.monotonic() - start
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-6000:])
    print(f"deploy/build on {base}: {seconds:.1f} s")
    try:
        yield Built(tag, canary, seconds)
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)


def test_built_image_holds_no_canary_and_no_key_file(built: Built) -> None:
    assert secrets_in_saved_image(built.tag, built.canary.encode()) == []


def test_the_scan_finds_a_key_file_and_the_canary_when_they_are_copied_in(
    built: Built, tmp_path: Path
) -> None:
    """The scan above can fail: an image that copies them in is caught, each one."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "id_rsa").write_text("ssh key\n", encoding="utf-8")
    (context / "note.txt").write_text(f"token {built.canary}\n", encoding="utf-8")
    (context / "Dockerfile").write_text(
        f"FROM {built.tag}\nCOPY id_rsa /home/ufo/.ssh/id_rsa\nCOPY note.txt /home/ufo/\n"
        "RUN rm /home/ufo/.ssh/id_rsa\n",
        encoding="utf-8",
    )
    leaky = built.tag + "-leaky"
    subprocess.run(
        ["docker", "build", "-q", "-t", leaky, str(context)], check=True, capture_output=True
    )
    try:
        found = secrets_in_saved_image(leaky, built.canary.encode())
    finally:
        subprocess.run(["docker", "rmi", "-f", leaky], capture_output=True, timeout=120)
    assert [f for f in found if f.startswith("canary at byte")]
    assert [f for f in found if f.endswith("home/ufo/.ssh/id_rsa")], found


class Stack:
    """One compose project of deploy/compose.yaml, named for this test run."""

    def __init__(self, image: str, workdir: Path) -> None:
        self.project = f"luigi-ufo-test-{secrets.token_hex(4)}"
        self.password = secrets.token_urlsafe(18)
        password_file = workdir / "postgres_password"
        password_file.write_text(self.password, encoding="utf-8")
        password_file.chmod(0o600)
        self.input = workdir / "input"
        self.input.mkdir()
        self.input.chmod(0o755)
        self.env = {
            **os.environ,
            "LUIGI_UFO_IMAGE": image,
            "LUIGI_UFO_POSTGRES_IMAGE": os.environ.get("LUIGI_UFO_TEST_POSTGRES_IMAGE")
            or "postgres:15",
            "LUIGI_UFO_SPARK_WORKERS": "2",
            "LUIGI_UFO_SPARK_WORKER_CORES": "1",
            "LUIGI_UFO_SPARK_WORKER_MEMORY": "1g",
            "LUIGI_UFO_POSTGRES_PASSWORD_FILE": str(password_file),
            "LUIGI_UFO_INPUT": str(self.input),
        }

    def argv(self, *args: str) -> list[str]:
        return ["docker", "compose", "-f", str(COMPOSE_FILE), "-p", self.project, *args]

    def compose(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
        return result.stdout

    def port(self, service: str, port: int) -> int:
        host, _, published = self.compose("port", service, str(port)).strip().rpartition(":")
        assert host == "127.0.0.1", (service, host)
        return int(published)

    def workers(self, *runs: tuple[str, ...]) -> None:
        """Run one Luigi worker per ``runs`` entry, side by side; each must succeed."""
        procs = [
            subprocess.Popen(
                self.argv("run", "--rm", "-T", "luigi-worker", *args),
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for args in runs
        ]
        outputs = [proc.communicate(timeout=600)[0] for proc in procs]
        for args, proc, out in zip(runs, procs, outputs, strict=True):
            assert proc.returncode == 0, (args, out[-5000:])
            assert "This progress looks :)" in out, (args, out[-5000:])

    def down(self) -> subprocess.CompletedProcess[str]:
        """Remove the project's containers (run ones too), volumes and network."""
        argv = self.argv("--profile", "pipeline", "down", "-v", "--remove-orphans", "-t", "10")
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300)

    def leftovers(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.project}"
        found = []
        for kind in (["ps", "-a"], ["volume", "ls"], ["network", "ls"]):
            listed = subprocess.run(
                ["docker", *kind, "-q", "--filter", label], capture_output=True, text=True
            )
            found += listed.stdout.split()
        return found


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - http on 127.0.0.1
        return json.load(response)


def luigid_tasks(base: str, status: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"data": json.dumps({"status": status})})
    return dict(http_json(f"{base}/api/task_list?{query}")["response"])


def top_rows(port: int, password: str, date: str) -> list[tuple[int, str, int]]:
    conn = psycopg2.connect(
        host="127.0.0.1", port=port, user="ufo", dbname="ufo", password=password
    )
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT rank, state, sightings FROM ufo_top_states WHERE date = %s ORDER BY rank",
                (date,),
            )
            return list(cur.fetchall())
    finally:
        conn.close()


def test_stack_runs_two_dates_with_two_luigi_workers_and_leaves_nothing(
    built: Built, tmp_path: Path
) -> None:
    stack = Stack(built.tag, tmp_path)
    samples: dict[str, SampleSummary] = {
        date: write_sample(stack.input / f"{date}.csv.gz", 3_000, seed=seed)
        for date, seed in DATES.items()
    }
    for sample in samples.values():
        sample.path.chmod(0o644)
    start = time.monotonic()
    try:
        stack.compose("up", "-d", "--wait", "--wait-timeout", "240", timeout=300)
        up = time.monotonic() - start
        stack.workers(
            *(("ImportUFOExport", "--date", d, "--source", f"/input/{d}.csv.gz") for d in DATES)
        )
        stack.workers(*(("TopStatesToDatabase", "--date", d, "--workers", "1") for d in DATES))

        db_port = stack.port("postgres", 5432)
        for date, sample in samples.items():
            assert top_rows(db_port, stack.password, date) == expected_top(sample)

        luigid = f"http://127.0.0.1:{stack.port('luigid', 8082)}"
        with urllib.request.urlopen(luigid + "/", timeout=30) as page:  # noqa: S310 - as above
            assert page.status == 200
            assert "luigi" in page.read().decode("utf-8", "replace").lower()
        done = luigid_tasks(luigid, "DONE")
        assert not luigid_tasks(luigid, "FAILED")
        by_date: dict[str, set[str]] = {}
        for family in FAMILIES:
            for date in DATES:
                [task] = [
                    t for t in done.values() if t["name"] == family and t["params"]["date"] == date
                ]
                if family == "TopStatesToDatabase":
                    by_date[date] = set(task["workers"])
        # Each date's pipeline ran in its own Luigi worker (its own container), through luigid.
        [first], [second] = by_date.values()
        assert first != second, by_date

        spark = http_json(f"http://127.0.0.1:{stack.port('spark-master', 8080)}/json/")
        assert sum(w["state"] == "ALIVE" for w in spark["workers"]) == 2, spark["workers"]
        # AggregateUFOsByState of each date ran on this cluster (TopTenStates on a file: lake
        # ranks the aggregate's parts in plain Python, with no Spark application).
        finished = sorted(app["name"] for app in spark["completedapps"])
        assert finished == ["aggregate_by_state", "aggregate_by_state"], finished
    finally:
        down = stack.down()
    print(f"stack: up {up:.1f} s, up to down {time.monotonic() - start:.1f} s")
    assert down.returncode == 0, down.stderr[-3000:]
    assert stack.leftovers() == []
