"""tests/image_scan.py on hand-made ``docker save`` archives (the Docker leg scans real ones)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests import image_scan
from tests.image_scan import secrets_in_image

CANARY = b"canary-0123456789abcdef"
KEY = b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def tar_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def saved_image(path: Path, *layers: dict[str, bytes], config: bytes = b"{}") -> Path:
    names = [f"layer{i}/layer.tar" for i in range(len(layers))]
    manifest = [{"Config": "config.json", "Layers": names}]
    files = {"manifest.json": json.dumps(manifest).encode(), "config.json": config}
    files.update({name: tar_bytes(layer) for name, layer in zip(names, layers, strict=True)})
    path.write_bytes(tar_bytes(files))
    return path


def test_a_clean_image_with_a_ca_bundle_passes(tmp_path: Path) -> None:
    image = saved_image(
        tmp_path / "clean.tar",
        {"etc/ssl/certs/ca.pem": CA, "opt/venv/lib/certifi/cacert.pem": CA},
        {"usr/bin/tool": b"\x7fELF"},
    )
    assert secrets_in_image(image, CANARY) == []


def test_key_files_are_found_by_name_and_private_keys_by_content(tmp_path: Path) -> None:
    image = saved_image(
        tmp_path / "keys.tar",
        {"root/.ssh/id_rsa": b"x", "home/u/.aws/credentials": b"x", "app/.env": b"x"},
        {"etc/tls/server.pem": KEY, "home/u/.boto": b"x", "root/.ssh/.wh.id_rsa": b""},
    )
    assert sorted(f.split(":", 1)[1] for f in secrets_in_image(image, CANARY)) == [
        "app/.env",
        "etc/tls/server.pem",
        "home/u/.aws/credentials",
        "home/u/.boto",
        "root/.ssh/id_rsa",
    ]


def test_the_canary_is_found_in_layers_and_config_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = saved_image(
        tmp_path / "canary.tar",
        {"srv/app.conf": b"token=" + CANARY},
        config=json.dumps({"Env": ["TOKEN=" + CANARY.decode()]}).encode(),
    )
    found = secrets_in_image(image, CANARY)
    assert len(found) == 2, found
    data = image.read_bytes()
    # The same offsets when the needle straddles every chunk boundary.
    for chunk in (7, 64, 1000):
        monkeypatch.setattr(image_scan, "CHUNK", chunk)
        assert image_scan.archive_offsets(image, CANARY) == [
            i for i in range(len(data)) if data.startswith(CANARY, i)
        ]
