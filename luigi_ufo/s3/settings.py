"""S3 settings as a value object, resolved from ``[ufo_s3]`` at run time."""

from __future__ import annotations

from dataclasses import dataclass

from luigi_ufo.errors import ConfigError

RETRY_MODES = ("standard", "adaptive", "legacy")


@dataclass(frozen=True)
class S3Settings:
    """How boto3 and Spark's s3a reach S3; holds no secrets (credentials come from the chain)."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    path_style: bool = False
    retry_mode: str = "standard"
    max_attempts: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.retry_mode not in RETRY_MODES:
            raise ConfigError(
                f"[ufo_s3] retry_mode {self.retry_mode!r} is unknown; use one of {RETRY_MODES}"
            )
        if self.max_attempts < 1:
            raise ConfigError(
                f"[ufo_s3] max_attempts {self.max_attempts!r} must be at least 1; 8 is a good value"
            )
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError(
                f"[ufo_s3] timeouts ({self.connect_timeout!r}, {self.read_timeout!r}) must be "
                "positive seconds"
            )
        if self.endpoint_url is not None and not self.endpoint_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(
                f"[ufo_s3] endpoint_url {self.endpoint_url!r} lacks http:// or https://; "
                "write e.g. 'http://127.0.0.1:9000'"
            )

    @classmethod
    def from_config(cls) -> S3Settings:
        """Read ``[ufo_s3]`` now (luigi.cfg / LUIGI_CONFIG_PATH)."""
        from luigi_ufo.config import section_values, ufo_s3

        values = section_values(ufo_s3(), cls)  # type: ignore[no-untyped-call]
        return cls(**{**values, "endpoint_url": values["endpoint_url"] or None})
