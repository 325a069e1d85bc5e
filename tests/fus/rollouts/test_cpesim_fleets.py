"""Rollouts end to end with cpesim fleets of 1,000 boxes against the real portal (pytest-django's
live server: `/cwmp`, `/qrc`, `/firmware/`, `/fus/report` over HTTP on loopback).

* Managed: 1,000 simulated STBs inform the ACS, the rollout queues CWMP Downloads wave by wave and
  wakes the boxes by connection request; each box downloads the image over HTTP, checks it,
  reboots into it and reports TransferComplete. Every box is upgraded exactly once.
* Unmanaged: 1,000 boxes of the inventory that update themselves poll the QRC. Only the boxes a
  rollout has released are offered the package; pausing withdraws the offer; the update reports
  are the outcomes.

The engine's tick is called here instead of by beat (its real-worker run is in test_worker.py);
connection requests run inline (Celery eager) so the order of events is the test's.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from acs.models import Device, Task
from cpesim.download import make_image
from cpesim.fleet import Fleet, FleetConfig, Group
from cpesim.profiles import DeviceSpec
from cpesim.unmanaged import UnmanagedBox, UnmanagedFleet
from fus.choices import MetadataMode
from fus.models import DownloadRecord, FirmwarePackage, RolloutDevice, UpdateReport
from fus.rollouts import engine, services
from fus.rollouts.choices import Channel, GateMode, RolloutStatus
from tests.cpesim.peer import FleetThread, free_port
from tests.fus.delivery_helpers import approved_package
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import create

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("cpesim-rollouts"),
]
BOXES = 1000
CANARY = 50


@pytest.fixture
def portal(live_server, settings):
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip(
            "1,000 boxes at once need a database that takes concurrent connections: the live "
            "server shares one in-memory SQLite connection between its threads. Runs on "
            "PostgreSQL (DATABASE_URL, as in CI)."
        )

    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CWMP_TRANSCRIPTS = 0
    settings.CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS = True  # so the ACS can wake them
    settings.FUS_DOWNLOAD_BASE_URL = live_server.url + "/firmware/"
    settings.FUS_REPORT_RATE = 1_000_000
    settings.CELERY_TASK_ALWAYS_EAGER = True  # not app.conf: a value set there outlives the test
    return live_server.url


def _image_package(tenants, *, mode: str = MetadataMode.MANAGED):
    image = make_image("2.0.0", oui="00D09E", product_class="A-STB", payload=os.urandom(20_000))
    package = approved_package(tenants["dc_a"], "2.0.0", data=image, actor=tenants["noc"])
    if mode != package.mode:
        FirmwarePackage.objects.filter(pk=package.pk).update(mode=mode)
        package.refresh_from_db()
    return package


def _until(predicate, *, timeout: float, step: float = 0.5, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(step)


def test_a_managed_rollout_of_1000_cpesim_boxes_completes_each_box_upgraded_once(tenants, portal):
    package = _image_package(tenants)
    port = free_port()
    config = FleetConfig(
        acs_url=portal + "/cwmp",
        connection_request_base=f"http://127.0.0.1:{port}/cr",
        periodic_interval=86_400,  # only connection requests bring the boxes back
        reboot_seconds=0.05,
        time_scale=0.01,
        session_concurrency=16,
        download_concurrency=16,
        http_timeout=60,
    )
    spec = DeviceSpec("00D09E", "A-STB", manufacturer="Alpha")
    fleet = Fleet(config, [Group(spec, BOXES, 1, serial_format="SN{:06d}")])
    runner = FleetThread(fleet, ("127.0.0.1", port))
    runner.start()
    try:
        assert runner.started.wait(30)
        _until(
            lambda: Device.objects.exclude(connection_request_username="").count() == BOXES,
            timeout=300,
            what="every box registered, and given connection-request credentials, in its "
            "BOOTSTRAP session",
        )
        rollout = create(
            package,
            tenants["noc"],
            stages=[{"name": "canary", "count": CANARY}, {"percent": 30}],
            max_concurrent=200,
            starts_per_minute=100_000,
            success_threshold=95,
            min_sample=20,
        )
        assert [w.size for w in rollout.waves.order_by("number")] == [50, 300, 650]
        services.start_rollout(rollout, actor=tenants["noc"])

        released_order = []

        def completed() -> bool:
            engine.tick(rollout.pk)
            rollout.refresh_from_db()
            if rollout.current_wave not in released_order:
                released_order.append(rollout.current_wave)
            return rollout.status in (RolloutStatus.COMPLETED, RolloutStatus.HALTED)

        _until(completed, timeout=600, step=1.0, what="the rollout completes")
    finally:
        runner.stop()

    assert rollout.status == RolloutStatus.COMPLETED, rollout.halt_reason
    assert released_order == [0, 1, 2]
    assert engine.state_counts(rollout)["succeeded"] == BOXES
    # the registry saw the new version in each box's Inform after its reboot
    assert Device.objects.filter(software_version="2.0.0").count() == BOXES
    # exactly once: one Download per box, one transfer per box, every simulated box on 2.0.0
    assert Task.objects.filter(rpc="Download").count() == BOXES
    assert Task.objects.filter(rpc="Download", state="done").count() == BOXES
    assert DownloadRecord.objects.filter(status="completed").count() == BOXES
    assert {box.software_version for box in fleet.boxes} == {"2.0.0"}
    # wave by wave: no box of a later wave started before every box of the canary had finished
    canary_done = RolloutDevice.objects.filter(rollout=rollout, wave=0).latest("finished_at")
    later = RolloutDevice.objects.filter(rollout=rollout, wave__gt=0).earliest("started_at")
    assert later.started_at >= canary_done.finished_at


def test_an_unmanaged_rollout_of_1000_polling_boxes_widens_wave_by_wave(tenants, portal):
    package = _image_package(tenants, mode=MetadataMode.UNMANAGED)
    inventory = make_fleet(tenants["dc_a"], BOXES, prefix="SN")
    boxes = [
        UnmanagedBox("00D09E", "A-STB", d.serial_number, "1.0.0", "1.0", d.mac_address)
        for d in inventory
    ]
    loop = asyncio.new_event_loop()  # one loop: the fleet's semaphore belongs to it
    polling = UnmanagedFleet(boxes, portal, concurrency=16)

    def poll(which) -> int:
        """These boxes poll the QRC once each; how many installed an update."""

        async def main():
            results = await asyncio.gather(*(polling.poll_once(box) for box in which))
            return sum(1 for r in results if r is not None)

        return loop.run_until_complete(main())

    def poll_everyone() -> int:
        return poll(boxes)

    def waiting() -> list[UnmanagedBox]:
        return [box for box in boxes if box.software_version != "2.0.0"]

    sample = boxes[::10]  # 100 boxes across the serial range

    rollout = create(
        package,
        tenants["noc"],
        channels=[Channel.UNMANAGED.value],
        stages=[{"name": "canary", "count": CANARY}, {"percent": 30}],
        gate=GateMode.APPROVAL,
        success_threshold=95,
        min_sample=20,
    )
    # before the start nobody is offered the package: the rollout governs it
    assert poll(sample) == 0
    services.start_rollout(rollout, actor=tenants["noc"])
    engine.tick(rollout.pk)

    # the canary: exactly its boxes take the update when everyone polls
    assert poll_everyone() == CANARY
    canary = set(
        RolloutDevice.objects.filter(rollout=rollout, wave=0).values_list(
            "device__serial_number", flat=True
        )
    )
    assert set(UpdateReport.objects.values_list("serial_number", flat=True)) == canary
    engine.tick(rollout.pk)
    assert engine.state_counts(rollout)["succeeded"] == CANARY

    # paused: the next wave, approved, is not offered; resumed: it is (and only it: every box
    # still waiting polls)
    services.approve_wave(rollout, 1, actor=tenants["noc"])
    services.pause_rollout(rollout, actor=tenants["noc"])
    engine.tick(rollout.pk)
    assert poll(waiting()[:300]) == 0
    services.resume_rollout(rollout, actor=tenants["noc"])
    engine.tick(rollout.pk)
    assert poll(waiting()) == 300

    engine.tick(rollout.pk)
    services.approve_wave(rollout, 2, actor=tenants["noc"])
    engine.tick(rollout.pk)
    assert poll(waiting()) == BOXES - CANARY - 300
    engine.tick(rollout.pk)
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.COMPLETED, rollout.halt_reason
    assert engine.state_counts(rollout)["succeeded"] == BOXES
    # exactly once: one report and one download per box, nobody offered anything more
    assert UpdateReport.objects.count() == BOXES
    assert UpdateReport.objects.values("serial_number").distinct().count() == BOXES
    assert DownloadRecord.objects.count() == BOXES
    assert {box.software_version for box in boxes} == {"2.0.0"}
    assert poll(sample) == 0
    loop.close()
