"""``luigi-ufo connect start``: a server only its owner can use (a generated token, a 0600 file).

The owner's tasks find the token by themselves; another local account, created by the test,
gets no session, whichever loopback name it uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from luigi_ufo.errors import ConfigError
from luigi_ufo.spark.connect.runner import ConnectRunner, ConnectSpec, require_connect_client
from luigi_ufo.spark.scripts import Script
from tests.other_account import other_account

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LUIGI_UFO = Path(sys.executable).with_name("luigi-ufo")
CLIENT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).create()
print("COUNT", spark.range(3).count())
"""


@pytest.fixture
def connect_server(
    home: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """``luigi-ufo connect start`` on a free port; yields (URL, stderr, environment)."""
    try:
        require_connect_client()
    except ConfigError as exc:
        pytest.skip(f"connect_server: {exc}")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**home, "LUIGI_UFO_RUNTIME_DIR": str(runtime)}
    env.pop("SPARK_CONNECT_AUTHENTICATE_TOKEN", None)
    monkeypatch.setenv("LUIGI_UFO_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", raising=False)
    started = subprocess.run(
        [str(LUIGI_UFO), "connect", "start", "--port", "0", "--master", "local[1]"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        yield started.stdout.strip(), started.stderr, env
    finally:
        subprocess.run([str(LUIGI_UFO), "connect", "stop"], env=env, timeout=120, check=False)


def test_another_local_account_cannot_use_the_connect_server(
    connect_server: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    url, said, env = connect_server
    port = url.rsplit(":", 1)[1].strip("/")
    # The owner's runs find the token themselves (nothing exported, nothing in luigi.cfg).
    script = tmp_path / "job.py"
    script.write_text("def main(argv, spark):\n    return 0\n")
    spec = ConnectSpec(
        url=f"sc://127.0.0.1:{port}", script=Script(path=script, sha256=""), name="t"
    )
    assert ConnectRunner(spec).run(lambda spark: spark.range(3).count()) == 3

    # Where the other account can read it (pytest's tmp_path is private).
    client = Path("/tmp") / f"luigi-ufo-client-{os.getpid()}.py"
    client.write_text(CLIENT)
    client.chmod(0o644)
    try:
        with other_account() as other:
            for name in ("localhost", "127.0.0.1"):
                tried = other.run([sys.executable, str(client), f"sc://{name}:{port}"])
                assert "COUNT 3" not in tried.stdout, (name, tried.stdout)
                assert tried.returncode != 0
    finally:
        client.unlink()

    # The token: in a 0600 file of the owner, named by `connect start`, never on a command line.
    token_file = Path(env["LUIGI_UFO_RUNTIME_DIR"]) / f"connect-token-{port}"
    assert token_file.stat().st_mode & 0o077 == 0
    token = token_file.read_text().strip()
    assert str(token_file) in said
    assert token not in said
    status = subprocess.run(
        [str(LUIGI_UFO), "connect", "status"], env=env, capture_output=True, text=True
    )
    assert str(token_file) in status.stderr
    assert token not in status.stderr
    for proc in psutil.process_iter(["cmdline"]):
        assert token not in " ".join(proc.info["cmdline"] or [])
