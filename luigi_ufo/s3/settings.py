"""S3 settings as a value object, declared once and read from ``[s3_endpoint]`` at run time."""

from __future__ import annotations

from dataclasses import dataclass

from luigi_ufo.secrets import hint_for, refuse_credentials
from luigi_ufo.settings.fields import check_fields, setting
from luigi_ufo.settings.sections import config_section, read_section

SECTION = "s3_endpoint"
RETRY_MODES = ("standard", "adaptive", "legacy")


def _http_url(value: str) -> str | None:
    # Raised, not returned: the returned text is shown next to the value, here a secret.
    refuse_credentials(f"[{SECTION}] endpoint_url", value, hint_for(SECTION, "endpoint_url"))
    if value.startswith(("http://", "https://")):
        return None
    return "an http:// or https:// URL, e.g. http://127.0.0.1:9000"


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "at least 1 (8 is a good value)"


def _positive(value: float) -> str | None:
    return None if value > 0 else "a positive duration (10, 10s, 1m)"


@dataclass(frozen=True)
class S3Settings:
    """How boto3 and Spark's s3a reach S3; holds no secrets (credentials come from the chain)."""

    endpoint_url: str | None = setting(
        None, "S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO; AWS if unset", check=_http_url
    )
    region: str = setting("us-east-1", "AWS region name")
    path_style: bool = setting(False, "path-style addressing (MinIO, moto, LocalStack)")
    retry_mode: str = setting(
        "standard",
        "botocore retry mode; 'adaptive' also rate-limits the client on throttling",
        choices=RETRY_MODES,
    )
    max_attempts: int = setting(
        8, "botocore max attempts per request (first try included)", check=_at_least_one
    )
    connect_timeout: float = setting(
        10.0, "connect timeout (10, 10s)", form="duration", check=_positive
    )
    read_timeout: float = setting(60.0, "read timeout (60, 1m)", form="duration", check=_positive)

    def __post_init__(self) -> None:
        check_fields(self, f"[{SECTION}]")

    @classmethod
    def from_config(cls) -> S3Settings:
        """Read ``[s3_endpoint]`` now (command line, luigi.cfg / LUIGI_CONFIG_PATH)."""
        return cls(**read_section(SECTION))


#: ``[s3_endpoint]``: the luigi.Config section of S3Settings.
s3_endpoint = config_section(SECTION, S3Settings)
