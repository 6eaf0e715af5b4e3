"""The S3 storage backend of dated datasets: HEAD for one flag, ListObjectsV2 for many."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from luigi_ufo.dated.paths import Root
from luigi_ufo.dated.storage import ObjectInfo
from luigi_ufo.errors import StorageError

_MISSING_KEY_CODES = ("404", "NoSuchKey", "NotFound")


class S3Storage:
    """Objects under ``s3://bucket/prefix/``; ``requests`` counts API calls and listing pages."""

    def __init__(self, root: Root, *, client: Any = None) -> None:
        self.root = root
        self.requests = 0
        self._client = client

    @property
    def client(self) -> Any:
        """Return the boto3 client, built from ``[s3_endpoint]`` on first use if none was given."""
        if self._client is None:
            from luigi_ufo.s3.client import default_client

            self._client = default_client()
        return self._client

    def _key(self, rel: str) -> str:
        return self.root.key_prefix + rel

    def uri(self, rel: str) -> str:
        return f"s3://{self.root.bucket}/{self._key(rel)}"

    def exists(self, rel: str) -> bool:
        self.requests += 1
        try:
            self.client.head_object(Bucket=self.root.bucket, Key=self._key(rel))
        except Exception as exc:
            if _error_code(exc) in _MISSING_KEY_CODES:
                return False
            raise _storage_error(exc, "check", self.uri(rel)) from exc
        return True

    def list_keys(self, rel_prefix: str = "", start_after: str = "") -> Iterator[str]:
        return (info.key for info in self.list_objects(rel_prefix, start_after))

    def list_objects(self, rel_prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        prefix = self._key(rel_prefix)
        kwargs: dict[str, Any] = {"Bucket": self.root.bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = self._key(start_after)
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.root.key_prefix)
        pages = iter(paginator.paginate(**kwargs, PaginationConfig={"PageSize": 1000}))
        while True:
            # Count the page before asking for it: a failed request still cost a request.
            self.requests += 1
            try:
                page = next(pages)
            except StopIteration:
                self.requests -= 1  # the paginator ended without sending anything
                return
            except Exception as exc:
                raise _storage_error(exc, "list", self.uri(rel_prefix)) from exc
            for item in page.get("Contents", ()):
                modified = item.get("LastModified")
                yield ObjectInfo(
                    item["Key"][strip:],
                    int(item.get("Size", 0)),
                    item.get("ETag", ""),
                    modified.timestamp() if modified is not None else 0.0,
                )
            if not page.get("IsTruncated"):
                return

    def open_read(self, rel: str) -> BinaryIO:
        self.requests += 1
        try:
            response = self.client.get_object(Bucket=self.root.bucket, Key=self._key(rel))
        except Exception as exc:
            raise _storage_error(exc, "read", self.uri(rel)) from exc
        return io.BufferedReader(response["Body"], buffer_size=1 << 20)

    def put_file(self, rel: str, local_path: str) -> None:
        self.requests += 1
        with open(local_path, "rb") as fh:
            try:
                self.client.put_object(Bucket=self.root.bucket, Key=self._key(rel), Body=fh)
            except Exception as exc:
                raise _storage_error(exc, "write", self.uri(rel)) from exc

    def delete(self, rels: list[str]) -> None:
        for start in range(0, len(rels), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = rels[start : start + 1000]
            self.requests += 1
            try:
                response = self.client.delete_objects(
                    Bucket=self.root.bucket,
                    Delete={"Objects": [{"Key": self._key(r)} for r in chunk], "Quiet": True},
                )
            except Exception as exc:
                raise _storage_error(exc, "delete", self.uri(chunk[0])) from exc
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"could not delete {len(errors)} object(s) under {self.uri('')!r}, e.g. "
                    f"{first.get('Key')!r}: {first.get('Code')}; check delete permissions"
                )


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _storage_error(exc: BaseException, action: str, uri: str) -> StorageError:
    """Translate a botocore failure into a StorageError that says the fix."""
    code = _error_code(exc)
    bucket = uri[len("s3://") :].partition("/")[0]
    if code == "NoSuchBucket":
        fix = f"bucket {bucket!r} does not exist at this endpoint; create it or fix the root"
    elif code in _MISSING_KEY_CODES:
        fix = "the object does not exist; take part names from iter_parts()"
    elif code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        fix = "access denied; check the credentials the boto3 chain finds and the bucket policy"
    elif code in ("503", "SlowDown", "500", "InternalError", "ServiceUnavailable"):
        fix = (
            "S3 kept failing after all retries; raise [s3_endpoint] max_attempts or use 'adaptive'"
        )
    elif type(exc).__name__ == "NoCredentialsError":
        fix = "no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/SECRET in the env"
    elif type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError"):
        fix = "cannot reach the S3 endpoint; check [s3_endpoint] endpoint_url and the network"
    else:
        fix = "see the cause above"
    detail = code or type(exc).__name__
    return StorageError(f"could not {action} {uri!r} ({detail}): {fix}")
