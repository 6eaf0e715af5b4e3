"""Look through a ``docker save`` archive for secrets: canary bytes anywhere, key files in layers.

Every byte of the archive is searched for the canary (layers, the image config with its
environment and build history, the manifest); every file of every layer is checked by name
(ssh keys, ``.aws/``, ``.boto``, ``.pgpass``, ``.env``) and ``*.pem`` / ``*.key`` files by content
(a private key block; public CA bundles such as ``/etc/ssl/certs/*.pem`` are not keys). A file
deleted by a later layer still counts: its bytes are in the lower layer. Compressed files (jars,
wheels, gzip) are not opened, so a canary inside one goes unseen.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path, PurePosixPath

KEY_NAME = re.compile(r"^(id_(rsa|dsa|ecdsa|ed25519)\b.*|\.boto|\.pgpass|\.env)$")
KEY_SUFFIXES = (".pem", ".key")
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
CHUNK = 1 << 24


def archive_offsets(path: Path, needle: bytes) -> list[int]:
    """Return the offsets of ``needle`` in the file at ``path`` (read in overlapping chunks)."""
    found: list[int] = []
    keep = len(needle) - 1
    with path.open("rb") as fh:
        start, tail = 0, b""
        while chunk := fh.read(CHUNK):
            data = tail + chunk
            at = data.find(needle)
            while at != -1:
                found.append(start - len(tail) + at)
                at = data.find(needle, at + 1)
            tail = data[-keep:] if keep else b""
            start += len(chunk)
    return found


def key_files(path: Path) -> list[str]:
    """Return ``layer:file`` for each key file in the layers of the saved image at ``path``."""
    findings: list[str] = []
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        layers = [layer for image in manifest for layer in image["Layers"]]
        for layer in layers:
            with tarfile.open(fileobj=archive.extractfile(layer), mode="r:*") as files:
                for member in files:
                    name = PurePosixPath(member.name)
                    if name.name.startswith(".wh."):
                        continue  # a deletion marker: the file itself is in a lower layer
                    if ".aws" in name.parts or KEY_NAME.match(name.name):
                        findings.append(f"{layer}:{member.name}")
                    elif member.isfile() and name.suffix in KEY_SUFFIXES:
                        content = files.extractfile(member).read()  # type: ignore[union-attr]
                        if PRIVATE_KEY.search(content):
                            findings.append(f"{layer}:{member.name}")
    return findings


def secrets_in_image(path: Path, canary: bytes) -> list[str]:
    """Return what the saved image at ``path`` should not hold: canary offsets and key files."""
    return [f"canary at byte {at}" for at in archive_offsets(path, canary)] + key_files(path)
