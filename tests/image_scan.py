"""Look through a ``docker save`` stream for secrets: canary bytes anywhere, key files in layers.

The archive is read once, as a stream (``docker save`` piped in, nothing written to disk: an
image is gigabytes and CI machines have little room). Every byte is searched for the canary
(layers, the image config with its environment and build history, the manifest); every file of
every layer is checked by name (ssh keys, ``.aws/``, ``.boto``, ``.pgpass``, ``.env``) and
``*.pem`` / ``*.key`` files by content (a private key block; public CA bundles such as
``/etc/ssl/certs/*.pem`` are not keys). A layer is any member of the archive that reads as a
tar, so the legacy layout (``<id>/layer.tar``) and the OCI one (``blobs/sha256/<digest>``) are
both covered without the manifest, which comes last. A file deleted by a later layer still
counts: its bytes are in the lower layer. Compressed files (jars, wheels, gzip) are not opened,
so a canary inside one goes unseen.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from pathlib import PurePosixPath
from typing import IO

KEY_NAME = re.compile(r"^(id_(rsa|dsa|ecdsa|ed25519)\b.*|\.boto|\.pgpass|\.env)$")
KEY_SUFFIXES = (".pem", ".key")
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
BUFSIZE = 1 << 20


class NeedleWatch:
    """A readable stream that passes ``raw``'s bytes through and notes where ``needle`` occurs."""

    def __init__(self, raw: IO[bytes], needle: bytes) -> None:
        self.raw = raw
        self.needle = needle
        self.offsets: list[int] = []
        self._start = 0  # stream offset of the next byte read
        self._tail = b""  # the last len(needle) - 1 bytes: a match may straddle two reads

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        data = self._tail + chunk
        at = data.find(self.needle)
        while at != -1:
            self.offsets.append(self._start - len(self._tail) + at)
            at = data.find(self.needle, at + 1)
        keep = len(self.needle) - 1
        self._tail = data[-keep:] if keep else b""
        self._start += len(chunk)
        return chunk

    def drain(self) -> None:
        """Read (and search) what is left after the last archive member."""
        while self.read(BUFSIZE):
            pass


def key_files_in_layer(layer_name: str, layer: IO[bytes]) -> list[str]:
    """Return ``layer:file`` for each key file in ``layer``, or nothing if it is not a tar."""
    findings: list[str] = []
    try:
        files = tarfile.open(fileobj=layer, mode="r|*", bufsize=BUFSIZE)  # noqa: SIM115 (with below)
    except tarfile.ReadError:
        return findings  # a JSON config, index or manifest
    with files:
        for member in files:
            name = PurePosixPath(member.name)
            if name.name.startswith(".wh."):
                continue  # a deletion marker: the file itself is in a lower layer
            if ".aws" in name.parts or KEY_NAME.match(name.name):
                findings.append(f"{layer_name}:{member.name}")
            elif member.isfile() and name.suffix in KEY_SUFFIXES:
                content = files.extractfile(member).read()  # type: ignore[union-attr]
                if PRIVATE_KEY.search(content):
                    findings.append(f"{layer_name}:{member.name}")
    return findings


def secrets_in_image(stream: IO[bytes], canary: bytes) -> list[str]:
    """Return what the saved image read from ``stream`` holds that it should not."""
    watch = NeedleWatch(stream, canary)
    keys: list[str] = []
    with tarfile.open(fileobj=watch, mode="r|", bufsize=BUFSIZE) as archive:  # type: ignore[call-overload]
        for member in archive:
            if member.isfile():
                keys += key_files_in_layer(member.name, archive.extractfile(member))  # type: ignore[arg-type]
    watch.drain()
    return [f"canary at byte {at}" for at in watch.offsets] + keys


def secrets_in_saved_image(tag: str, canary: bytes) -> list[str]:
    """Scan ``docker save TAG`` as it streams out (no archive on disk)."""
    with subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE) as saving:
        assert saving.stdout is not None
        found = secrets_in_image(saving.stdout, canary)
        status = saving.wait(timeout=600)
    if status:
        raise subprocess.CalledProcessError(status, ["docker", "save", tag])
    return found
