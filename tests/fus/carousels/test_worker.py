"""A real Celery worker consumes the `carousel` queue: the operator starts a FLUTE carousel, the
worker sends it on loopback multicast, a receiver here gets the file with the right hash; the
worker is killed (SIGKILL), the watchdog dispatches the carousel again, a new worker takes it and
the file arrives again; stop ends it and the worker shuts down promptly.

Processes run against their own runtime folder (SQLite file, filesystem broker), as
tests/portal/test_runportal.py does; with REDIS_URL set, Redis carries the Celery messages."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fus.multicast import flute
from tests.fus.carousels.helpers import MulticastReceiver, free_channel

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("carousel-worker")]

SETUP = """
from portal.audit import acting_as
from fus.models import Carousel
from fus.services import catalogue
from fus.services.carousels import save_carousel, start_carousel
from tests.factories import DeviceClassFactory, ManufacturerFactory, UserFactory, make_package
noc = UserFactory(username="noc", role="noc")
dc = DeviceClassFactory(manufacturer=ManufacturerFactory(name="Alpha", ouis=["00D09E"]), product_class="A-STB")
package = make_package(dc, "9.9.9", actor=noc, data=bytes(range(256)) * 800)
if package.status == "draft":
    catalogue.validate_firmware(package, actor=noc)
catalogue.approve_firmware(package, actor=noc)
carousel = save_carousel(
    Carousel(name="demo", kind="flute", group="{group}", port={port}, ttl=0, interface="127.0.0.1",
             rate_bps=20_000_000, tsi=42),
    packages=[package], actor=noc,
)
start_carousel(carousel, actor=noc)
print(package.files.get().sha256)
"""


def _manage(env, code: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def _worker(env, var: Path, name: str) -> subprocess.Popen:
    with open(var / f"{name}.log", "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-Q",
                "carousel",
                "-P",
                "threads",
                "-c",
                "4",
                "-n",
                f"{name}@%h",
                "-l",
                "INFO",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _receive(group: str, port: int, timeout: float = 60) -> bytes | None:
    rx = MulticastReceiver(group, port)
    try:
        receiver = flute.Receiver(42)
        got = rx.until(lambda d: receiver.feed(d), timeout=timeout)
        return got[0].data if got else None
    finally:
        rx.close()


def test_a_real_worker_runs_the_carousel_and_the_watchdog_restarts_it(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PORTAL_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="portal.settings",
        PYTHONUNBUFFERED="1",
        CAROUSEL_HEARTBEAT_SECONDS="0.5",
        CAROUSEL_STALE_SECONDS="3",
    )
    if env.get("REDIS_URL"):
        env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + "/8"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
        env=env,
        cwd=ROOT,
        check=True,
    )
    group, port = free_channel()
    sha256 = _manage(env, SETUP.format(group=group, port=port))
    workers = [_worker(env, var, "carousel-1")]
    try:
        data = _receive(group, port)
        assert data is not None, (var / "carousel-1.log").read_text()[-3000:]
        assert hashlib.sha256(data).hexdigest() == sha256
        state = "from fus.models import CarouselRun; r = CarouselRun.objects.get(); print(r.state, r.restarts, r.worker)"
        assert _manage(env, state).startswith("running 0 ")

        os.killpg(workers[0].pid, signal.SIGKILL)  # the worker dies with its carousel
        workers[0].wait(timeout=10)
        workers.append(_worker(env, var, "carousel-2"))
        restarted = _manage(
            env,
            "import time\nfrom fus.services.carousels import restart_stale_carousels\n"
            "time.sleep(4)\nprint(restart_stale_carousels())",
        )
        assert restarted == "1"
        data = _receive(group, port)
        assert data is not None and hashlib.sha256(data).hexdigest() == sha256
        run = _manage(env, state)
        assert run.startswith("running 1 "), run

        _manage(
            env,
            "from fus.models import Carousel; from fus.services.carousels import stop_carousel; "
            "stop_carousel(Carousel.objects.get())",
        )
        deadline = time.monotonic() + 20
        while not _manage(env, state).startswith("stopped") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _manage(env, state).startswith("stopped")
        workers[1].send_signal(signal.SIGTERM)
        assert workers[1].wait(timeout=20) == 0  # warm shutdown does not hang on carousel loops
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
