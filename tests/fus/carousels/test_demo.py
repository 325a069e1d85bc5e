"""The `make run` demo runs an announcement carousel and a FLUTE carousel for the demo firmware
(issue 6): `seed_demo` creates and starts demo-sap and demo-flute, a real Celery worker on the
`carousel` queue (as runportal starts it) picks them up, a receiver here hears the SAP announcement
point at the FLUTE channel and gets the demo firmware from it, byte for byte. Loopback only: the
demo's groups at TTL 0 on 127.0.0.1. Runs against its own runtime folder (SQLite, broker)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

import pytest

from fus.multicast import flute, sap, sdp
from portal.management.commands.seed_demo import demo_image
from tests.fus.carousels.helpers import MulticastReceiver
from tests.fus.carousels.test_worker import ROOT, _manage, _worker

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("carousel-worker")]


def test_the_demo_seed_starts_the_sap_and_flute_carousels_and_a_worker_runs_them(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(PORTAL_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="portal.settings")
    env["PYTHONUNBUFFERED"] = "1"
    if env.get("REDIS_URL"):
        env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + "/9"
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    seeded = subprocess.run(
        [*manage, "seed_demo"], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert "Started carousel demo-flute" in seeded.stdout
    assert "Started carousel demo-sap" in seeded.stdout
    state = (
        "from fus.models import Carousel\n"
        "print(sorted((c.name, c.desired_running) for c in Carousel.objects.all()))"
    )
    assert _manage(env, state) == str(
        [("demo-dvbstp", False), ("demo-flute", True), ("demo-sap", True)]
    )
    sap_rx = MulticastReceiver("239.255.255.255", 9875)
    flute_rx = MulticastReceiver("239.255.10.1", 4001)
    worker = _worker(env, var, "demo-carousels")
    try:
        announced = {}

        def hear(data):
            packet = sap.decode(data)
            if not packet.is_deletion:
                ann = sdp.parse_announcement(packet.payload)
                announced[ann.session_id] = ann
            return len(announced) >= 2

        assert sap_rx.until(hear, timeout=60), (var / "demo-carousels.log").read_text()[-3000:]
        channels = {
            (str(p.delivery.group), p.delivery.port, p.delivery.tsi)
            for ann in announced.values()
            for p in ann.populations
        }
        assert channels == {("239.255.10.1", 4001, 1)}
        names = {
            f.rsplit("/", 1)[-1]
            for a in announced.values()
            for p in a.populations
            for f, _ in p.files
        }
        assert names == {"mx300-7.0.3.img", "nl-stb4500-2.4.0-beta.img"}

        receiver = flute.Receiver(1)
        files = {}

        def collect(data):
            for f in receiver.feed(data):
                files[f.content_location.rsplit("/", 1)[-1]] = f.data
            return len(files) >= 2

        assert flute_rx.until(collect, timeout=90)  # 2 x 256 KiB at 1 Mbit/s: ~4 s a cycle
        for name, data in files.items():
            expected = demo_image(name.removesuffix(".img"))
            assert hashlib.sha256(data).digest() == hashlib.sha256(expected).digest(), name
    finally:
        sap_rx.close()
        flute_rx.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
