"""The Spark Connect server behind the ``spark_connect`` fixture.

The product's own :func:`luigi_ufo.spark.connect.server.start_server` on ``local[2]``, free
loopback ports for gRPC and the web UI (whose REST API lets tests see server-side jobs), and a
private state directory, also its working directory, removed at stop.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.services.ports import free_ports
from luigi_ufo.services.readiness import http_get
from luigi_ufo.services.spark_connect import HOST, ConnectServer, stop_server
from luigi_ufo.spark.connect.server import start_server
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.testing.backend import Backend

__all__ = ["TEST_SERVER_CONF", "SparkConnectService", "start_spark_connect"]

#: Small and quick on 2 cores.
TEST_SERVER_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC",
}


@dataclass
class SparkConnectService:
    """A running Connect server: connect to :attr:`url`; :attr:`pid` is its JVM."""

    server: ConnectServer
    name: str = "spark-connect"
    backend: Backend = Backend.NATIVE
    _base: Path | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        return self.server.pid

    @property
    def ui_url(self) -> str | None:
        return self.server.ui_url

    def jobs(self) -> list[dict[str, Any]]:
        """Return the server application's jobs from its REST API (newest first)."""
        if self.ui_url is None:
            return []
        apps = json.loads(http_get(f"{self.ui_url}/api/v1/applications", timeout=30))
        app = apps[0]["id"]
        jobs: list[dict[str, Any]] = json.loads(
            http_get(f"{self.ui_url}/api/v1/applications/{app}/jobs", timeout=30)
        )
        return jobs

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)

    def stop(self) -> None:
        """Stop the server (JVM and Python workers) and remove its state directory."""
        if self._base is None:
            return
        stop_server(self._base / "server.json")
        shutil.rmtree(self._base, ignore_errors=True)
        self._base = None


def start_spark_connect(
    *,
    master: str = "local[2]",
    jars: Sequence[str] = (),
    s3: bool = False,
    conf: Mapping[str, str] | None = None,
) -> SparkConnectService:
    """Start a Connect server for tests (``s3=True``: with ``[s3_endpoint]``'s s3a settings)."""
    base = Path(tempfile.mkdtemp(prefix="luigi-ufo-connect-"))
    port, ui_port = free_ports(2, HOST)
    settings = SparkSettings(
        master=master, jars=tuple(jars), conf={**TEST_SERVER_CONF, **(conf or {})}
    )
    try:
        # A throwaway server: no generated token, like the loopback trust of test databases; its
        # own working directory, so it resolves nothing against the test's (nor leaves Spark's
        # spark-warehouse/ there).
        server = start_server(
            base / "server.json",
            settings=settings,
            port=port,
            ui_port=ui_port,
            s3=s3,
            token=False,
            cwd=base,
        )
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return SparkConnectService(server=server, _base=base)
