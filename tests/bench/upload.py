"""Firmware upload through the real server: a large sparse image streamed to the ASGI server.

Measures wall time and throughput of the supplier upload (HTTP multipart over loopback, spooled by
Django's ASGI handler, hashed and stored by HashingUploadHandler, accepted by the catalogue
service), the web process's peak resident memory, and — as the ceiling on this disk — a plain copy
of the same file. Writes docs/benchmarks/upload.md.

    python -m tests.bench.upload [--size-mb 2048]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "upload.md"
BOUNDARY = "bench-boundary-7d1f"


class MultipartBody:
    """A multipart body read from disk piece by piece; requests streams it (its length is known)."""

    def __init__(self, fields: dict[str, str], path: Path):
        head = b"".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        head += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.parts = [head, path, f"\r\n--{BOUNDARY}--\r\n".encode()]
        self.length = len(head) + path.stat().st_size + len(self.parts[2])
        self._iter = self._chunks()
        self._buf = b""

    def _chunks(self):
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
            else:
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        yield chunk

    def __len__(self):
        return self.length

    def read(self, n=-1):
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._iter)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--size-mb", type=int, default=int(os.environ.get("BENCH_UPLOAD_MB", "2048"))
    )
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=os.environ.get("BENCH_DIR")))
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], env=env, check=True, cwd=ROOT, capture_output=True)
    image = work / "image.bin"
    with open(image, "wb") as fh:  # sparse, with real bytes at both ends
        fh.write(os.urandom(1 << 20))
        fh.truncate(size - (1 << 20))
        fh.seek(size - (1 << 20))
        fh.write(os.urandom(1 << 20))

    # Ceiling: copying the same file on the same disk.
    start = time.perf_counter()
    shutil.copyfile(image, work / "copy.bin")
    os.sync()
    copy_s = time.perf_counter() - start
    (work / "copy.bin").unlink()

    port = _free_port()
    server = os.environ.get("BENCH_SERVER", "uvicorn")
    argv = {
        "uvicorn": ["uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        "daphne": ["daphne", "-b", "127.0.0.1", "-p", str(port)],
    }[server]
    argv[0] = str(Path(sys.executable).parent / argv[0])
    server_log = open(work / "server.log", "w")  # noqa: SIM115
    web = subprocess.Popen(
        [*argv, "portal.asgi:application"],
        env=env,
        cwd=ROOT,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/login/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        session = requests.Session()
        session.get(f"{base}/login/")
        session.post(
            f"{base}/login/",
            data={
                "username": "supplier-a",
                "password": "supplier-a",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/login/"},
        )
        page = session.get(f"{base}/supplier/upload/").text
        dc = re.search(r'name="device_classes" value="(\d+)"', page).group(1)
        rss_before = _rss_kib(web.pid, "VmRSS")
        body = MultipartBody(
            {
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "device_classes": dc,
                "software_version": f"bench-{int(time.time())}",
                "package_name": f"bench-{int(time.time())}",
                "update_flag": "automatic",
                "update_method": "next_restart",
                "update_priority": "3",
            },
            image,
        )
        start = time.perf_counter()
        response = session.post(
            f"{base}/supplier/upload/",
            data=body,
            allow_redirects=False,
            timeout=3600,
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(len(body)),
                "Referer": f"{base}/supplier/upload/",
            },
        )
        upload_s = time.perf_counter() - start
        peak_kib = _rss_kib(web.pid, "VmHWM")
        if response.status_code != 302:
            raise SystemExit(f"upload failed: HTTP {response.status_code}\n{response.text[:2000]}")
    finally:
        web.terminate()
        web.wait(timeout=30)
        server_log.close()
    stored = list((work / "var" / "media" / "firmware").rglob("image.bin"))
    assert stored and stored[0].stat().st_size == size, (
        "the stored file is missing or has the wrong size"
    )
    mib = size / (1 << 20)
    report = f"""# Benchmark: firmware upload through the real server

Produced by `make bench` (`python -m tests.bench.upload --size-mb {args.size_mb}`) on
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores. Shared, noisy machine: read the ratios.

A {mib:,.0f} MiB sparse image (random first and last MiB) uploaded by `supplier-a` through
`/supplier/upload/` to one {server} process over loopback: multipart body, spooled by Django's ASGI
handler, streamed through `HashingUploadHandler` (SHA-256), accepted by `upload_firmware`.

| figure | value |
|---|---|
| upload wall time | {upload_s:.1f} s |
| upload throughput | {mib / upload_s:,.0f} MiB/s |
| plain copy of the same file on the same disk (ceiling) | {copy_s:.1f} s, {mib / copy_s:,.0f} MiB/s |
| upload time / copy time | {upload_s / copy_s:.1f}x |
| web process resident memory before the upload | {rss_before / 1024:,.0f} MiB |
| web process peak resident memory (VmHWM) | {peak_kib / 1024:,.0f} MiB |
| peak memory / file size | {peak_kib / 1024 / mib:.3f} |

The body is written to disk twice (Django's ASGI spool, then the firmware file) and hashed once, so
about twice the copy time is the expected floor for this path. Memory stays flat: the file is never
held in memory.
"""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print(report)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
