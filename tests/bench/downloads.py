"""Firmware download throughput on loopback: nginx serving the file itself (the ceiling), nginx in
front of the portal with X-Accel-Redirect (production), and the portal alone (pure Django through
uvicorn, the async streaming path). Writes docs/benchmarks/downloads.md.

    python -m tests.bench.downloads [--size-mb 1024] [--runs 3]

Needs nginx (installed from apt when absent and running as root). Every path's bytes are checked
against the file's SHA-256, and the download records the portal wrote are counted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks" / "downloads.md"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing nginx from apt ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], env=env, check=True)
        return shutil.which("nginx") or "/usr/sbin/nginx"
    raise SystemExit("nginx is not installed (apt-get install nginx-light) and cannot be installed")


def _manage(env, *args, capture=False) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=capture,
        text=True,
    )
    return done.stdout if capture else ""


PREPARE = """
import hashlib, os, sys
from fus.models import FirmwareFile, FirmwarePackage
from fus.choices import FirmwareStatus
from fus.downloads import file_path
from django.conf import settings
size = int(os.environ["BENCH_SIZE"])
package = FirmwarePackage.objects.filter(status=FirmwareStatus.APPROVED).first()
image = package.files.first()
block = os.urandom(16 << 20)
digest = hashlib.sha256()
with open(image.file.path, "wb") as fh:
    left = size
    while left:
        piece = block[: min(left, len(block))]
        fh.write(piece)
        digest.update(piece)
        left -= len(piece)
FirmwareFile.objects.filter(pk=image.pk).update(size=size, sha256=digest.hexdigest())
print(file_path(image), image.file.name, digest.hexdigest())
"""

COUNT = """
from fus.models import DownloadRecord
from django.db.models import Count
rows = DownloadRecord.objects.values_list("via_accel", "status").annotate(n=Count("pk"))
print(";".join(f"{a}:{s}:{n}" for a, s, n in rows))
"""


def _start_uvicorn(env, port, log):
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    proc = subprocess.Popen(
        [
            uvicorn,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "portal.asgi:application",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/login/", timeout=10)
            return proc
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"uvicorn on {port} did not start; see {log.name}")


def _nginx_conf(work: Path, media: Path, port: int, accel_port: int) -> Path:
    conf = work / "nginx.conf"
    conf.write_text(
        textwrap.dedent(
            f"""
            {"user root;" if os.geteuid() == 0 else ""}
            worker_processes 1;
            daemon off;
            pid {work}/nginx.pid;
            error_log {work}/nginx-error.log warn;
            events {{ worker_connections 1024; }}
            http {{
                access_log off;
                sendfile on;
                tcp_nopush on;
                client_body_temp_path {work}/nginx-body;
                proxy_temp_path {work}/nginx-proxy;
                fastcgi_temp_path {work}/nginx-fastcgi;
                uwsgi_temp_path {work}/nginx-uwsgi;
                scgi_temp_path {work}/nginx-scgi;
                types {{ }}
                default_type application/octet-stream;
                server {{
                    listen 127.0.0.1:{port};
                    # the ceiling: nginx serving the stored file directly
                    location /ceiling/ {{ alias {media}/; }}
            {textwrap.indent(NGINX_SITE.format(upstream=f"127.0.0.1:{accel_port}", media=media), "        ")}
                }}
            }}
            """
        )
    )
    return conf


# The production recipe, also quoted in docs/deploy-nginx.md.
NGINX_SITE = """\
location /firmware/ {{
    proxy_pass http://{upstream};
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
}}
location /protected-firmware/ {{
    internal;
    alias {media}/;
    # keep the portal's download token for post_action (its own proxy_pass drops the upstream's headers)
    set $fus_download $upstream_http_x_fus_download;
    # after the download, in this (final) location: report its end to the portal
    post_action @fus_download_done;
    etag off;
    add_header ETag $upstream_http_etag;
    add_header Repr-Digest $upstream_http_repr_digest;
    add_header Cache-Control $upstream_http_cache_control;
}}
location @fus_download_done {{
    internal;
    proxy_pass http://{upstream}/firmware/-/done?t=$fus_download&bytes=$body_bytes_sent&done=$request_completion;
    proxy_set_header Host $host;
}}
"""


def _curl(url: str) -> tuple[float, int]:
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if out[0] != "200":
        raise SystemExit(f"{url}: HTTP {out[0]}")
    return float(out[2]), int(out[1])


def _sha256_of(url: str) -> str:
    digest = hashlib.sha256()
    with requests.get(url, stream=True, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--size-mb", type=int, default=int(os.environ.get("BENCH_DOWNLOAD_MB", "1024"))
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    size = args.size_mb << 20
    nginx = ensure_nginx()
    work = Path(tempfile.mkdtemp(prefix="bench-downloads-", dir=os.environ.get("BENCH_DIR")))
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "FUS_DOWNLOAD_AUTH": "none",
        "BENCH_SIZE": str(size),
    }
    env.pop("DATABASE_URL", None)
    env.pop("FUS_DOWNLOAD_ACCEL_REDIRECT", None)
    _manage(env, "migrate", "-v0")
    _manage(env, "seed_demo", capture=True)
    path, name, sha = (
        _manage(env, "shell", "-c", PREPARE, capture=True).strip().splitlines()[-1].split()
    )
    media = work / "var" / "media"

    django_port, accel_port, nginx_port = _free_port(), _free_port(), _free_port()
    logs = [open(work / f"{n}.log", "w") for n in ("django", "accel")]  # noqa: SIM115
    procs = []
    try:
        procs.append(_start_uvicorn(env, django_port, logs[0]))
        procs.append(
            _start_uvicorn(
                {**env, "FUS_DOWNLOAD_ACCEL_REDIRECT": "/protected-firmware/"}, accel_port, logs[1]
            )
        )
        conf = _nginx_conf(work, media, nginx_port, accel_port)
        for d in ("nginx-body", "nginx-proxy", "nginx-fastcgi", "nginx-uwsgi", "nginx-scgi"):
            (work / d).mkdir()
        procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)]))
        time.sleep(1)

        urls = {
            "nginx serving the file (ceiling)": f"http://127.0.0.1:{nginx_port}/ceiling/{name}",
            "nginx + portal, X-Accel-Redirect": f"http://127.0.0.1:{nginx_port}{path}",
            "portal alone (uvicorn, async stream)": f"http://127.0.0.1:{django_port}{path}",
        }
        for label, url in urls.items():
            got = _sha256_of(url)
            if got != sha:
                raise SystemExit(f"{label}: wrong bytes (sha256 {got}, expected {sha})")
        # Range through nginx after X-Accel-Redirect, and the portal's own headers kept.
        head = requests.get(
            urls["nginx + portal, X-Accel-Redirect"], headers={"Range": "bytes=0-99"}, timeout=30
        )
        accel_range_ok = head.status_code == 206 and len(head.content) == 100
        accel_etag = head.headers.get("ETag")
        accel_digest = head.headers.get("Repr-Digest", "")

        results: dict[str, list[float]] = {label: [] for label in urls}
        for _ in range(args.runs):
            for label, url in urls.items():
                seconds, got = _curl(url)
                if got != size:
                    raise SystemExit(f"{label}: {got} bytes, expected {size}")
                results[label].append(size / seconds / (1 << 20))
        time.sleep(1)  # let nginx's post_action reports land
        records = _manage(env, "shell", "-c", COUNT, capture=True).strip().splitlines()[-1]
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)
        for log in logs:
            log.close()

    best = {label: max(v) for label, v in results.items()}
    median = {label: statistics.median(v) for label, v in results.items()}
    ceiling = median["nginx serving the file (ceiling)"]
    rows = "\n".join(
        f"| {label} | {median[label]:,.0f} MiB/s | {best[label]:,.0f} MiB/s | {median[label] / ceiling:.0%} |"
        for label in urls
    )
    report = f"""# Benchmark: firmware downloads on loopback

Produced by `make bench` (`python -m tests.bench.downloads --size-mb {args.size_mb} --runs {args.runs}`)
on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores. Shared, noisy machine: read the
ratios. nginx {subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]}, one worker; uvicorn, one process; SQLite.

One {args.size_mb:,} MiB approved firmware file (random bytes), fetched with `curl -o /dev/null` over
loopback, {args.runs} runs per path, one download at a time. Every path's bytes were checked against
the file's SHA-256 first.

| path | median | best | of the ceiling |
|---|---|---|---|
{rows}

* **X-Accel-Redirect**: the portal checks the request (approved package, access control, Range,
  If-None-Match), writes the download's record and answers with `X-Accel-Redirect`; nginx sends the
  bytes with sendfile and reports the end through `post_action` (`/firmware/-/done`). Goal: at least
  80% of the ceiling.
* **Portal alone**: Django's ASGI handler streaming the async iterator of `fus.delivery.views`
  (1 MiB `pread`s in a worker thread) through uvicorn: the figure for deployments without nginx.
* Range through nginx after X-Accel-Redirect: {"206 with 100 bytes" if accel_range_ok else "NOT honoured"};
  headers kept from the portal: ETag `{accel_etag}`, Repr-Digest `{accel_digest[:20]}…`.
* Download records written by the portal (via_accel:status:count): `{records}`.
"""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print(report)
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
