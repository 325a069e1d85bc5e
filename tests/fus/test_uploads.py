"""Streaming uploads: memory stays bounded, cut-off and failed uploads leave nothing behind."""

import hashlib
import os
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from django.http.multipartparser import MultiPartParser
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fus.models import FirmwarePackage
from fus.uploads import (
    HashingUploadHandler,
    IncomingFile,
    incoming_from_bytes,
    purge_stale_incoming,
)
from tests.conftest import incoming_leftovers

BOUNDARY = "----portal-test-boundary"


class MultipartStream:
    """A multipart/form-data body produced on the fly from a file on disk (never whole in memory)."""

    def __init__(self, path: Path, *, field="files", name="image.bin", truncate_at=None):
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = path.stat().st_size
        self.length = len(self.head) + self.size + len(self.tail)
        self.limit = self.length if truncate_at is None else truncate_at
        self.fh = open(path, "rb")  # noqa: SIM115 (closed by the test)
        self.pos = 0

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.limit - self.pos
        n = min(n, self.limit - self.pos)
        out = bytearray()
        while len(out) < n:
            p = self.pos + len(out)
            if p < len(self.head):
                out += self.head[p : p + n - len(out)]
            elif p < len(self.head) + self.size:
                out += self.fh.read(min(n - len(out), len(self.head) + self.size - p))
            else:
                q = p - len(self.head) - self.size
                out += self.tail[q : q + n - len(out)]
        self.pos += len(out)
        return bytes(out)

    def meta(self):
        return {
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(self.length),
        }


def parse(stream: MultipartStream):
    parser = MultiPartParser(stream.meta(), stream, [HashingUploadHandler()], "utf-8")
    return parser.parse()


@pytest.mark.slow
def test_large_sparse_upload_streams_with_bounded_memory(tmp_path, _media_root):
    size = 256 * 1024 * 1024
    image = tmp_path / "sparse.img"
    with open(image, "wb") as fh:  # sparse: a hole, then a marker at the very end
        fh.truncate(size - 16)
        fh.seek(size - 16)
        fh.write(b"END-OF-FIRMWARE!")
    stream = MultipartStream(image)
    tracemalloc.start()
    try:
        _, files = parse(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        stream.fh.close()
    upload = files["files"]
    assert isinstance(upload, IncomingFile) and not upload.error
    assert upload.size == size
    expected = hashlib.sha256()
    with open(image, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            expected.update(chunk)
    assert upload.sha256 == expected.hexdigest()
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak:,} bytes for a {size:,}-byte upload"
    upload.discard()
    assert incoming_leftovers(_media_root) == []


def test_upload_cut_off_half_way_leaves_nothing(tmp_path, _media_root):
    image = tmp_path / "img"
    image.write_bytes(os.urandom(3 * 1024 * 1024))
    stream = MultipartStream(image, truncate_at=2 * 1024 * 1024)
    _, files = parse(stream)
    stream.fh.close()
    assert "files" not in files
    assert incoming_leftovers(_media_root) == []


def test_stale_partial_files_are_purged(_media_root):
    kept = incoming_from_bytes("fresh.bin", b"x")
    stale = Path(_media_root) / ".incoming" / "dead.part"
    stale.write_bytes(b"left by a killed process")
    os.utime(stale, (1, 1))
    assert purge_stale_incoming(3600) == 1
    assert not stale.exists() and kept.path.exists()
    kept.discard()


@pytest.fixture
def tiny_disk(tmp_path, settings):
    """A real 1 MiB filesystem as MEDIA_ROOT (tmpfs; needs root, as on CI)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    settings.MEDIA_ROOT = mountpoint
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=False)


def test_full_disk_is_a_clear_error_and_frees_what_it_wrote(tiny_disk):
    image = incoming_from_bytes("big.img", [b"\xab" * 65536] * 40)  # 2.5 MiB into 1 MiB
    assert "firmware storage is full" in image.error
    assert image.path is None
    assert incoming_leftovers(tiny_disk) == []
    statvfs = os.statvfs(tiny_disk)
    assert statvfs.f_bfree * statvfs.f_frsize > 900 * 1024  # the partial file was deleted


@pytest.mark.django_db
def test_full_disk_through_the_upload_page(client, tenants, tiny_disk):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(tenants["supplier_a"])
    response = client.post(
        reverse("supplier:upload"),
        {
            "device_classes": [tenants["dc_a"].pk],
            "software_version": "9.9",
            "package_name": "too-big",
            "update_flag": "automatic",
            "update_method": "next_restart",
            "update_priority": 3,
            "files": [SimpleUploadedFile("big.img", b"\x01" * (2 * 1024 * 1024))],
        },
    )
    assert response.status_code == 200
    assert "big.img: the firmware storage is full" in response.content.decode()
    assert not FirmwarePackage.objects.exists()
    assert incoming_leftovers(tiny_disk) == []


@pytest.mark.django_db
def test_upload_page_stores_a_package_and_reports_errors_by_name(client, tenants, _media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(tenants["supplier_a"])
    form = {
        "device_classes": [tenants["dc_a"].pk],
        "software_version": "1.2.3",
        "package_name": "alpha-1.2.3",
        "update_flag": "automatic",
        "update_method": "next_restart",
        "update_priority": 3,
    }
    response = client.post(
        reverse("supplier:upload"), {**form, "files": [SimpleUploadedFile("a.img", b"A" * 999)]}
    )
    package = FirmwarePackage.objects.get()
    assert response.url == package.get_absolute_url()
    assert package.files.get().sha256 == hashlib.sha256(b"A" * 999).hexdigest()
    again = client.post(
        reverse("supplier:upload"),
        {**form, "package_name": "dup", "files": [SimpleUploadedFile("b.img", b"B" * 9)]},
    )
    assert (
        "SoftwareVersion &#x27;1.2.3&#x27; already exists for device class 00D09E-A-STB"
        in again.content.decode()
    )
    # a supplier cannot upload for another manufacturer's device class
    foreign = client.post(
        reverse("supplier:upload"),
        {
            **form,
            "device_classes": [tenants["dc_b"].pk],
            "files": [SimpleUploadedFile("c.img", b"C")],
        },
    )
    assert "Select a valid choice" in foreign.content.decode()
    assert FirmwarePackage.objects.count() == 1
    assert incoming_leftovers(_media_root) == []


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.binary(max_size=200),
    payload=st.binary(max_size=3000),
    cut=st.integers(min_value=0, max_value=4000),
    filename=st.text(max_size=40),
)
def test_fuzzed_multipart_bodies_never_leave_files(_media_root, prefix, payload, cut, filename):
    """Whatever bytes arrive, the parser stores a complete file or nothing, and never crashes
    with anything but Django's own MultiPartParserError."""
    from django.http.multipartparser import MultiPartParserError

    safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "")
    body = (
        prefix
        + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{safe_name}"\r\n\r\n'.encode(
            "utf-8", "surrogatepass"
        )
        + payload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )[:cut]
    from io import BytesIO

    meta = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(len(body)),
    }
    try:
        _, files = MultiPartParser(meta, BytesIO(body), [HashingUploadHandler()], "utf-8").parse()
    except MultiPartParserError:
        files = {}
    for upload in files.values():
        assert isinstance(upload, IncomingFile)
        assert Path(upload.temporary_file_path()).stat().st_size == upload.size
        upload.discard()
    assert incoming_leftovers(_media_root) == []
