"""moto, a local S3 API: in a thread of this process, or as a process of its own."""

from __future__ import annotations

import collections
import logging
import sys
from typing import Any

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.ports import free_port

__all__ = ["FAKE_AWS_ENV", "ThreadedMoto", "create_bucket", "moto_argv"]

#: Keys and region for moto (it accepts any): set so nothing can reach real AWS with real keys.
FAKE_AWS_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def moto_argv(*, host: str, port: int) -> list[str]:
    """Return the argv of a moto server process on ``host:port``."""
    return [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]


class _RingHandler(logging.Handler):
    """Keep the last log records of moto's HTTP server for failure reports."""

    def __init__(self, capacity: int = 200) -> None:
        super().__init__(logging.INFO)
        self.records: collections.deque[str] = collections.deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


class ThreadedMoto:
    """moto's ``ThreadedMotoServer`` on a free port of ``host``, its requests kept for a log."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        from moto.server import ThreadedMotoServer

        self._ring = _RingHandler()
        logging.getLogger("werkzeug").addHandler(self._ring)
        self._server: Any = ThreadedMotoServer(ip_address=host, port=free_port(host), verbose=False)
        self._server.start()
        bound_host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{bound_host}:{port}"

    def log_tail(self, lines: int = 40) -> str:
        """Return the last request log lines."""
        return "\n".join(list(self._ring.records)[-lines:])

    def stop(self) -> None:
        """Stop the server thread."""
        self._server.stop()
        logging.getLogger("werkzeug").removeHandler(self._ring)


def create_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` on the moto at ``endpoint`` with its fake keys."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=FAKE_AWS_ENV["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        client.create_bucket(Bucket=bucket)
    except Exception as exc:
        raise ServiceError(f"cannot create bucket {bucket!r} on moto at {endpoint}: {exc}") from exc
