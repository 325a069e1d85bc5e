"""cpesim's multicast receivers against real carousel loops (the loop a worker runs, in threads)
sending UDP multicast on loopback (TTL 0, groups joined on 127.0.0.1), reporting to the real
`/fus/report` (live server). Boxes outside the announced RangeList must not take the update."""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import os
import random
from datetime import UTC, datetime

import pytest

from acs.cwmp.faults import FaultCode
from cpesim.download import make_image
from cpesim.receiver import (
    Channel,
    MulticastReceiver,
    offers_from_sap,
    receive_files,
    verify_file,
)
from cpesim.unmanaged import UnmanagedBox
from fus.choices import MetadataMode
from fus.metadata import model as m
from fus.models import (
    CarouselKind,
    FirmwarePackage,
    FusEntity,
    ServiceLocation,
    UpdateReport,
)
from fus.models.entities import LocationKind
from fus.multicast import sdp
from fus.services import carousels as service
from fus.services.targeting import write_target_devices
from tests.fus.carousels.helpers import LoopThread, approved_package, make_carousel, retry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("carousels")]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    """The tests run the carousel loops themselves (LoopThread), not through the queue."""
    monkeypatch.setattr(service, "_dispatch", lambda cid, rid: None)


@pytest.fixture
def report_url(live_server, settings):
    settings.FUS_REPORT_RATE = 10_000
    settings.FUS_DOWNLOAD_BASE_URL = ""
    return live_server.url + "/fus/report"


def _package(tenants, version: str, *, product_class="A-STB", size=60_000, seed=0):
    """An approved unmanaged A-STB package announced to serials SN1000-SN1999 only."""
    payload = random.Random(seed).randbytes(size)
    image = make_image(version, oui="00D09E", product_class=product_class, payload=payload)
    package = approved_package(tenants, version, image)
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    package = FirmwarePackage.objects.get(pk=package.pk)
    write_target_devices(
        package,
        m.TargetDevices(
            device_groups=(
                m.DeviceGroup(
                    m.DeviceClassInfo("00D09E", "A-STB"),
                    m.RangeList((m.Range("SN1000", "SN1999"),)),
                ),
            )
        ),
        {("00D09E", "A-STB"): tenants["dc_a"]},
    )
    return package


def _box(serial: str, version: str = "1.0.0") -> UnmanagedBox:
    return UnmanagedBox("00D09E", "A-STB", serial, version, "1.0")


def _listen(receiver: MulticastReceiver, done, *, timeout=40.0, linger=1.0):
    """Run the receiver until `done()` (then `linger` seconds more) or `timeout`."""

    async def main():
        task = asyncio.create_task(receiver.run())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and not done():
            await asyncio.sleep(0.05)
        await asyncio.sleep(linger)
        receiver.stop()
        await task

    asyncio.run(main())


def _stop(tenants, *loops_and_carousels):
    for carousel, loop in loops_and_carousels:
        retry(lambda c=carousel: service.stop_carousel(c, actor=tenants["noc"]))
        loop.join()


def test_sap_announced_flute_update_reaches_the_targeted_box_only(tenants, report_url):
    package = _package(tenants, "5.0.0")
    flute_carousel = make_carousel(
        tenants, CarouselKind.FLUTE, [package], tsi=142, source_address="127.0.0.1"
    )
    announcer = make_carousel(
        tenants, CarouselKind.SAP, [package], rate_bps=200_000, source_address="127.0.0.1"
    )
    inside, outside, current = _box("SN1500"), _box("SN3000"), _box("SN1600", "5.0.0")
    receiver = MulticastReceiver(
        [inside, outside, current],
        (announcer.group, announcer.port),
        report_url=report_url,
        receive_timeout=30,
    )
    loops = [
        (flute_carousel, LoopThread(flute_carousel, tenants)),
        (announcer, LoopThread(announcer, tenants)),
    ]
    try:
        _listen(receiver, lambda: inside.history, linger=1.5)
    finally:
        _stop(tenants, *loops)
    assert receiver.stats["sap_announcements"] >= 1
    assert inside.software_version == "5.0.0" and inside.history[0].reported
    assert outside.software_version == "1.0.0" and not outside.history
    assert not current.history
    (report,) = retry(lambda: list(UpdateReport.objects.all()))
    assert (report.serial_number, report.to_version, report.result_code) == ("SN1500", "5.0.0", 0)
    assert report.package_id == package.pk


def test_dsmcc_delivery_and_a_wrong_image_is_a_failure_report(tenants, report_url):
    good = _package(tenants, "6.0.0", seed=1)
    # a package whose image was built for another product class: the box refuses it
    wrong = _package(tenants, "6.0.1", product_class="OTHER-STB", seed=2)
    FirmwarePackage.objects.filter(pk=good.pk).update(update_priority=1)
    FirmwarePackage.objects.filter(pk=wrong.pk).update(update_priority=4)
    dsmcc_carousel = make_carousel(tenants, CarouselKind.DSMCC, [good], pid=0x1F4)
    flute_carousel = make_carousel(tenants, CarouselKind.FLUTE, [wrong], tsi=9)
    announcer = make_carousel(tenants, CarouselKind.SAP, [good, wrong], rate_bps=200_000)
    a, b = _box("SN1001"), _box("SN1002", "6.0.0")
    receiver = MulticastReceiver(
        [a, b], (announcer.group, announcer.port), report_url=report_url, receive_timeout=30
    )
    loops = [(c, LoopThread(c, tenants)) for c in (dsmcc_carousel, flute_carousel, announcer)]
    try:
        _listen(receiver, lambda: a.software_version == "6.0.0" and b.history, linger=1.0)
    finally:
        _stop(tenants, *loops)
    # box a (1.0.0) is offered both and takes the more urgent 6.0.0 first (by DSM-CC); box b runs
    # 6.0.0 and is offered only 6.0.1, whose image is for another class
    first = a.history[0]
    assert (first.to_version, first.result_code) == ("6.0.0", 0)
    failure = b.history[0]
    assert failure.result_code == FaultCode.FILE_CORRUPTED and "OTHER-STB" in failure.result_text
    assert b.software_version == "6.0.0"
    reports = retry(
        lambda: list(UpdateReport.objects.values_list("serial_number", "to_version", "result_code"))
    )
    assert ("SN1001", "6.0.0", 0) in reports and ("SN1002", "6.0.1", 9018) in reports
    assert receiver.stats["rx_datagrams"] > 0  # the DSM-CC receiver's counters


def test_dvbstp_metadata_with_a_flute_location(tenants, report_url):
    package = _package(tenants, "7.0.0", seed=3)
    flute_carousel = make_carousel(tenants, CarouselKind.FLUTE, [package], tsi=33)
    fus = FusEntity.objects.create(name="FUS", fus_id="1", is_default=True)
    ServiceLocation.objects.create(
        fus=fus,
        kind=LocationKind.MULTICAST,
        url=f"dvb-mcast://{flute_carousel.group}:{flute_carousel.port}",
        preference=1,
    )
    announcer = make_carousel(tenants, CarouselKind.DVBSTP, [package], rate_bps=500_000)
    inside, outside = _box("SN1999"), _box("SN2000")
    receiver = MulticastReceiver(
        [inside, outside], (announcer.group, announcer.port), report_url=report_url
    )
    loops = [(c, LoopThread(c, tenants)) for c in (flute_carousel, announcer)]
    try:
        _listen(receiver, lambda: inside.history, linger=1.0)
    finally:
        _stop(tenants, *loops)
    assert receiver.stats["dvbstp_documents"] >= 1
    assert inside.software_version == "7.0.0" and inside.history[0].result_code == 0
    assert outside.software_version == "1.0.0" and not outside.history
    (report,) = retry(lambda: list(UpdateReport.objects.all()))
    assert report.serial_number == "SN1999" and report.result_code == 0


def test_joining_mid_cycle_with_5_percent_loss_completes_on_later_cycles(tenants):
    """Real multicast: the receiver joins a running FLUTE carousel half-way through a cycle and
    loses 5% of the datagrams; the file still arrives whole, on later cycles."""
    import hashlib
    import time

    from fus.models import CarouselRun

    package = _package(tenants, "8.0.0", size=250_000, seed=4)
    file = package.files.get()
    # about 2 s a cycle at 1 Mbit/s: the receiver joins after 1 s
    carousel = make_carousel(tenants, CarouselKind.FLUTE, [package], tsi=77, rate_bps=1_000_000)
    loop = LoopThread(carousel, tenants)
    try:
        time.sleep(1.0)
        assert retry(lambda: CarouselRun.objects.get(carousel=carousel).packets) > 0  # sending
        stats = collections.Counter()
        channel = Channel(
            sdp.FLUTE_PROTO, ipaddress.ip_address(carousel.group), carousel.port, tsi=77
        )
        got = asyncio.run(
            receive_files(
                channel, [file.file_name], timeout=40, stats=stats, loss=0.05, rng=random.Random(5)
            )
        )
        cycles_at_end = retry(lambda: CarouselRun.objects.get(carousel=carousel).cycles)
    finally:
        _stop(tenants, (carousel, loop))
    data, checked = got[file.file_name]
    assert checked and hashlib.sha256(data).hexdigest() == file.sha256
    assert stats["lost"] > 0
    assert cycles_at_end >= 1  # the first cycle the receiver saw was incomplete


def test_loss_must_be_a_fraction():
    channel = Channel(sdp.FLUTE_PROTO, ipaddress.ip_address("239.1.1.1"), 4000, tsi=1)
    with pytest.raises(ValueError, match="loss must be in"):
        asyncio.run(receive_files(channel, ["x"], timeout=0.1, loss=1.5))


def test_offers_and_verification_without_a_network():
    pop = sdp.Population(
        target=m.DeviceGroup(
            m.DeviceClassInfo("00D09E", "A-STB"),
            m.RangeList(
                (m.Range("SN1000", "SN1999"), m.Item(("SN1500",), m.Availability.EXCLUSIVE))
            ),
        ),
        software_version="2.0.0",
        package_name="p",
        package_size=10,
        files=(("firmware/1/a.img", 10),),
        delivery=sdp.Delivery(sdp.FLUTE_PROTO, ipaddress.ip_address("239.1.1.1"), 5000, tsi=1),
    )
    ann = sdp.Announcement("fus", 1, 0, ipaddress.ip_address("127.0.0.1"), (pop,))
    now = datetime.now(UTC)
    (offer,) = offers_from_sap(ann, _box("SN1400"), now)
    assert offer.channel == Channel(sdp.FLUTE_PROTO, pop.delivery.group, 5000, None, 1, None)
    assert offer.specificity.identified
    assert offers_from_sap(ann, _box("SN1500"), now) == []  # excluded by the Item
    assert offers_from_sap(ann, _box("SN2000"), now) == []  # outside the Range
    assert offers_from_sap(ann, _box("SN1400", "2.0.0"), now) == []  # already running it
    box = _box("SN1400")
    image = make_image("2.0.0", oui="00D09E", product_class="A-STB", payload=os.urandom(10))
    assert verify_file(box, "a", image, True, len(image), "2.0.0") == (0, "", "2.0.0")
    assert verify_file(box, "a", image, True, len(image) + 1, "2.0.0")[0] == 9018
    assert verify_file(box, "a", image, False, len(image), "2.0.0")[0] == 9018
    assert "announced 2.0.1" in verify_file(box, "a", image, True, len(image), "2.0.1")[1]


def test_receiver_and_unmanaged_modules_load_no_framework():
    """cpesim may use the pure fus.metadata and fus.multicast packages, nothing of Django."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, cpesim.receiver, cpesim.unmanaged, cpesim.cli\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'celery', 'channels', 'spyne', 'portal', 'cds', 'fus'))))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    loaded = [name for name in out.stdout.strip().split(",") if name]
    assert loaded and all(
        name == "fus" or name.split(".")[1] in ("metadata", "multicast") for name in loaded
    ), loaded


def test_sap_signatures_are_checked_with_trusted_keys():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fus.multicast import sap

    pop = sdp.Population(
        target=m.DeviceClass("00D09E", "A-STB"),
        software_version="2.0.0",
        package_name="p",
        package_size=10,
        files=(("firmware/1/a.img", 10),),
        delivery=sdp.Delivery(sdp.FLUTE_PROTO, ipaddress.ip_address("239.1.1.1"), 5000, tsi=1),
    )
    origin = ipaddress.ip_address("127.0.0.1")
    payload = sdp.write_announcement(sdp.Announcement("fus", 7, 0, origin, (pop,)))
    packet = sap.SapPacket(origin, sap.message_id_hash(payload), payload)
    fus_key, other_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    signed = sap.sign(packet, fus_key)
    box = _box("SN1")
    strict = MulticastReceiver([box], ("239.1.1.2", 9875), trusted_keys=[fus_key.public_key()])
    assert strict._sap(sap.encode(packet)) and strict._sap(sap.sign(packet, other_key))
    assert strict.stats["sap_signature"] == 2 and not strict.sap_sessions
    assert strict._sap(signed) and strict.stats["sap_announcements"] == 1
    (offer,) = strict.offers(box, datetime.now(UTC))
    assert offer.software_version == "2.0.0"
    # a deletion packet (RFC 2974: the payload is the session's o= line) withdraws it
    o_line = next(line for line in payload.split(b"\r\n") if line.startswith(b"o="))
    deletion = sap.SapPacket(
        origin, packet.msg_id_hash, o_line, message_type=sap.MessageType.DELETE
    )
    assert strict._sap(sap.sign(deletion, fus_key)) and strict.offers(box, datetime.now(UTC)) == []
