"""tests/image_scan.py on hand-made ``docker save`` streams (the Docker leg scans real ones)."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

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


def saved_image(*layers: dict[str, bytes], config: bytes = b"{}", oci: bool = True) -> bytes:
    """A ``docker save`` archive, OCI layout (Docker 25+) or legacy; the manifest comes last."""
    names = [f"blobs/sha256/{i:064x}" if oci else f"{i:064x}/layer.tar" for i in range(len(layers))]
    files = {name: tar_bytes(layer) for name, layer in zip(names, layers, strict=True)}
    files["blobs/sha256/" + "c" * 64] = config
    manifest = [{"Config": "blobs/sha256/" + "c" * 64, "Layers": names}]
    files["manifest.json"] = json.dumps(manifest).encode()
    return tar_bytes(files)


class Trickle(io.BytesIO):
    """A pipe that hands out at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self.step = step

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.step if size is None or size < 0 else min(size, self.step)
        return super().read(wanted)


def test_a_clean_image_with_a_ca_bundle_passes() -> None:
    image = saved_image(
        {"etc/ssl/certs/ca.pem": CA, "opt/venv/lib/certifi/cacert.pem": CA},
        {"usr/bin/tool": b"\x7fELF"},
    )
    assert secrets_in_image(io.BytesIO(image), CANARY) == []


@pytest.mark.parametrize("oci", [True, False], ids=["oci-layout", "legacy-layout"])
def test_key_files_are_found_by_name_and_private_keys_by_content(oci: bool) -> None:
    image = saved_image(
        {"root/.ssh/id_rsa": b"x", "home/u/.aws/credentials": b"x", "app/.env": b"x"},
        {"etc/tls/server.pem": KEY, "home/u/.boto": b"x", "root/.ssh/.wh.id_rsa": b""},
        oci=oci,
    )
    assert sorted(f.split(":", 1)[1] for f in secrets_in_image(io.BytesIO(image), CANARY)) == [
        "app/.env",
        "etc/tls/server.pem",
        "home/u/.aws/credentials",
        "home/u/.boto",
        "root/.ssh/id_rsa",
    ]


def test_the_canary_is_found_in_layers_and_config_across_reads() -> None:
    image = saved_image(
        {"srv/app.conf": b"token=" + CANARY},
        config=json.dumps({"Env": ["TOKEN=" + CANARY.decode()]}).encode(),
    )
    expected = [i for i in range(len(image)) if image.startswith(CANARY, i)]
    assert len(expected) == 2
    # The same offsets however the pipe splits the stream, the needle straddling every read.
    for step in (7, 64, 1000, len(image)):
        found = secrets_in_image(Trickle(image, step), CANARY)
        assert found == [f"canary at byte {at}" for at in expected], step
