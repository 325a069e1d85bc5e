"""Carousels as a service: real UDP multicast on loopback (TTL 0, interface 127.0.0.1), the loop
as a worker runs it, reloads on catalogue change, clear errors, stop, watchdog, pacing."""

from __future__ import annotations

import hashlib
import random
import time

import pytest
from django.utils import timezone

from fus.carousels.content import announced_target_devices
from fus.carousels.sender import Pacer
from fus.metadata import codec
from fus.metadata.targeting import DeviceIdentity, match_target
from fus.models import CarouselKind, CarouselRun, CarouselState
from fus.multicast import dsmcc, dvbstp, flute, sap, sdp
from fus.multicast.dvbstp import SegmentAssembler
from fus.services import carousels as service
from portal.models import AuditEvent
from tests.fus.carousels.helpers import (
    LoopThread,
    MulticastReceiver,
    approved_package,
    make_carousel,
    retry,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("carousels")]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    """Tests run the loop themselves (LoopThread); record what would go to the `carousel` queue."""
    sent = []
    monkeypatch.setattr(service, "_dispatch", lambda cid, rid: sent.append((cid, rid)))
    return sent


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_flute_carousel_delivers_the_file_then_reloads_then_stops(tenants):
    data = random.Random(1).randbytes(200_000)
    package = approved_package(tenants, "2.0.0", data)
    carousel = make_carousel(tenants, CarouselKind.FLUTE, [package], tsi=77)
    rx = MulticastReceiver(carousel.group, carousel.port)
    loop = LoopThread(carousel, tenants)
    try:
        receiver = flute.Receiver(77)
        got = rx.until(lambda d: receiver.feed(d))
        (file,) = got
        assert hashlib.sha256(file.data).hexdigest() == package.files.get().sha256
        assert file.content_location == f"firmware/{package.pk}/{package.files.get().file_name}"
        # the catalogue changes: a second package joins; a new FDT instance carries both
        second = retry(lambda: approved_package(tenants, "2.0.1", b"second image" * 1000))
        retry(lambda: carousel.packages.add(second))
        got = rx.until(lambda d: receiver.feed(d))
        assert [f.data for f in got] == [b"second image" * 1000]
        assert receiver.fdt_instance_ids == {0, 1}
        run = CarouselRun.objects.get(carousel=carousel)
        assert run.content_version == 1 and run.state == CarouselState.RUNNING
        assert _wait(lambda: CarouselRun.objects.get(carousel=carousel).packets > 0)
        retry(lambda: service.stop_carousel(carousel, actor=tenants["noc"]))
        assert loop.join() == "stopped"
    finally:
        rx.close()
    run = CarouselRun.objects.get(carousel=carousel)
    assert run.state == CarouselState.STOPPED and run.bitrate_bps == 0
    assert run.packets > 0 and run.bytes_sent > 0 and run.cycles >= 1
    kinds = set(
        AuditEvent.objects.filter(object_id=str(carousel.pk)).values_list("kind", flat=True)
    )
    assert {"carousel_started", "carousel_stopped"} <= kinds


def test_dsmcc_carousel_delivers_modules(tenants):
    data = random.Random(2).randbytes(50_000)
    package = approved_package(tenants, "3.0.0", data)
    carousel = make_carousel(tenants, CarouselKind.DSMCC, [package], pid=0x1F4)
    rx = MulticastReceiver(carousel.group, carousel.port)
    loop = LoopThread(carousel, tenants)
    try:
        receiver = dsmcc.Receiver(0x1F4)
        (module,) = rx.until(lambda d: receiver.feed(d))
        assert module.data == data and module.crc_checked
    finally:
        retry(lambda: service.stop_carousel(carousel, actor=tenants["noc"]))
        loop.join()
        rx.close()


def test_missing_file_is_a_clear_error_and_the_other_carousel_keeps_running(tenants):
    good = approved_package(tenants, "4.0.0", b"good" * 5000)
    bad = approved_package(tenants, "4.0.1", b"bad" * 5000)
    bad_path = bad.files.get().file.path
    broken = make_carousel(tenants, CarouselKind.FLUTE, [bad], tsi=5)
    working = make_carousel(tenants, CarouselKind.FLUTE, [good], tsi=6)
    import os

    os.unlink(bad_path)
    rx = MulticastReceiver(working.group, working.port)
    loops = [LoopThread(broken, tenants), LoopThread(working, tenants)]
    try:
        assert _wait(lambda: CarouselRun.objects.get(carousel=broken).state == CarouselState.ERROR)
        error = CarouselRun.objects.get(carousel=broken).last_error
        assert "is missing from storage" in error and bad.files.get().file_name in error
        receiver = flute.Receiver(6)
        (file,) = rx.until(lambda d: receiver.feed(d))
        assert file.data == b"good" * 5000
        assert CarouselRun.objects.get(carousel=working).state == CarouselState.RUNNING
    finally:
        for c in (broken, working):
            retry(lambda c=c: service.stop_carousel(c, actor=tenants["noc"]))
        for loop in loops:
            assert loop.join() == "stopped"
        rx.close()


def test_a_file_of_the_wrong_size_is_a_clear_error_until_it_is_restored(tenants):
    data = b"restore" * 4000
    package = approved_package(tenants, "4.1.0", data)
    f = package.files.get()
    path = f.file.path
    with open(path, "r+b") as stream:
        stream.truncate(1000)  # a half-copied file on the storage
    carousel = make_carousel(tenants, CarouselKind.FLUTE, [package], tsi=8)
    rx = MulticastReceiver(carousel.group, carousel.port)
    loop = LoopThread(carousel, tenants)
    try:
        assert _wait(
            lambda: CarouselRun.objects.get(carousel=carousel).state == CarouselState.ERROR
        )
        run = CarouselRun.objects.get(carousel=carousel)
        assert f"{f.file_name} has 1000 bytes on disk, the catalogue says {len(data)}" in (
            run.last_error
        )
        assert run.errors >= 1 and run.packets == 0
        with open(path, "wb") as stream:
            stream.write(data)
        receiver = flute.Receiver(8)
        (file,) = rx.until(lambda d: receiver.feed(d))
        assert file.data == data
        assert _wait(
            lambda: CarouselRun.objects.get(carousel=carousel).state == CarouselState.RUNNING
        )
        assert CarouselRun.objects.get(carousel=carousel).last_error == ""
    finally:
        retry(lambda: service.stop_carousel(carousel, actor=tenants["noc"]))
        loop.join()
        rx.close()


def test_sap_announces_each_population_with_its_flute_carousel(tenants):
    package = approved_package(tenants, "5.0.0", b"img" * 3000)
    flute_carousel = make_carousel(
        tenants, CarouselKind.FLUTE, [package], tsi=142, source_address="127.0.0.1"
    )
    announcer = make_carousel(
        tenants, CarouselKind.SAP, [package], rate_bps=100_000, source_address="127.0.0.1"
    )
    rx = MulticastReceiver(announcer.group, announcer.port)
    loop = LoopThread(announcer, tenants)
    try:
        packet = rx.until(lambda d: sap.decode(d))
        ann = sdp.parse_announcement(packet.payload)
        assert ann.session_id == package.pk and ann.manufacturer_ouis == ("00D09E",)
        (pop,) = ann.populations
        assert (str(pop.delivery.group), pop.delivery.port, pop.delivery.tsi) == (
            flute_carousel.group,
            flute_carousel.port,
            142,
        )
        assert pop.software_version == "5.0.0"
        assert pop.files == (
            (f"firmware/{package.pk}/{package.files.get().file_name}", package.files.get().size),
        )
        box = DeviceIdentity("00D09E", "A-STB", "1.0", "1.0.0", serial_number="1")
        assert match_target(pop.target, box)
        assert announced_target_devices(package).entries()[0] == pop.target
    finally:
        retry(lambda: service.stop_carousel(announcer, actor=tenants["noc"]))
        loop.join()
        rx.close()


def test_dvbstp_carries_metadata_stub_and_sdns(tenants):
    package = approved_package(tenants, "6.0.0", b"img" * 3000)
    carousel = make_carousel(
        tenants, CarouselKind.DVBSTP, [package], include_stub=True, port=3937, rate_bps=2_000_000
    )
    rx = MulticastReceiver(carousel.group, carousel.port)
    loop = LoopThread(carousel, tenants)
    try:
        asm = SegmentAssembler()
        seen = {}

        def feed(d):
            if (segment := asm.feed(d)) is not None:
                seen[(segment.payload_id, segment.segment_id)] = segment.data
            return len(seen) >= 3

        assert rx.until(feed)
        doc = codec.parse(seen[(dvbstp.PAYLOAD_FUS_ANNOUNCEMENT, package.pk & 0xFFFF)])
        assert doc.firmware_upgrade.software_version == "6.0.0"
        assert seen[(0x08, 0)].startswith(b"[_DVB-STUB-HEADER-v1.0]")
        assert b"ServiceDiscovery" in seen[(0x08, 1)]
    finally:
        retry(lambda: service.stop_carousel(carousel, actor=tenants["noc"]))
        loop.join()
        rx.close()


def test_watchdog_restarts_a_silent_carousel_and_the_old_loop_stands_down(
    tenants, settings, _no_dispatch
):
    settings.CAROUSEL_STALE_SECONDS = 1
    package = approved_package(tenants, "7.0.0", b"x" * 1000)
    carousel = make_carousel(tenants, CarouselKind.FLUTE, [package])
    loop = LoopThread(carousel, tenants)
    assert _wait(lambda: CarouselRun.objects.get(carousel=carousel).heartbeat_at is not None)
    # the worker "dies": its heartbeat is old
    CarouselRun.objects.filter(carousel=carousel).update(
        heartbeat_at=timezone.now() - timezone.timedelta(seconds=5),
        dispatched_at=timezone.now() - timezone.timedelta(seconds=5),
    )
    assert service.restart_stale_carousels() == 1
    run = CarouselRun.objects.get(carousel=carousel)
    assert (
        run.restarts == 1
        and run.run_id != loop.run_id
        and _no_dispatch[-1] == (carousel.pk, run.run_id)
    )
    assert loop.join() == "superseded"  # the old loop noticed and ended
    assert service.restart_stale_carousels() == 0  # just dispatched: give the worker time
    retry(lambda: service.stop_carousel(carousel, actor=tenants["noc"]))
    assert service.restart_stale_carousels() == 0


def test_start_twice_and_stop_twice_are_refused(tenants):
    carousel = make_carousel(tenants, CarouselKind.FLUTE, [])
    service.start_carousel(carousel, actor=tenants["noc"])
    with pytest.raises(service.CarouselError, match="already running"):
        service.start_carousel(carousel, actor=tenants["noc"])
    retry(lambda: service.stop_carousel(carousel, actor=tenants["noc"]))
    with pytest.raises(service.CarouselError, match="not running"):
        service.stop_carousel(carousel, actor=tenants["noc"])


def test_configuration_is_validated(tenants):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        make_carousel(tenants, CarouselKind.FLUTE, [], group="10.0.0.1")
    assert "group" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        make_carousel(tenants, CarouselKind.DVBSTP, [], include_stub=True, port=4000)
    assert "port" in caught.value.message_dict


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("rate", [10_000_000, 100_000_000])
def test_pacer_keeps_the_long_run_rate(rate):
    clock = FakeClock()
    pacer = Pacer(rate, clock=clock, sleep=clock.sleep)
    sent = 0
    while clock.now < 10:
        pacer.wait(1316)
        sent += 1316
        clock.now += 2e-6  # the cost of a send
    assert abs(sent * 8 / clock.now - rate) / rate < 0.001


def test_pacer_does_not_burst_after_a_stall_and_says_what_it_gave_up():
    clock = FakeClock()
    pacer = Pacer(8_000_000, clock=clock, sleep=clock.sleep)  # 1 MB/s
    pacer.wait(1000)
    clock.now += 1.0  # descheduled for a second
    pacer.wait(1000)  # no catch-up burst beyond max_lag (50 ms)
    assert pacer.due == pytest.approx(clock.now - 0.05 + 0.001)
    assert pacer.given_up == pytest.approx(1.0 - 0.05 - 0.001)
