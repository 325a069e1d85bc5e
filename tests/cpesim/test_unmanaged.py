"""cpesim's unmanaged boxes against the real FUS: `/qrc`, `/firmware/` and `/fus/report` served by
pytest-django's live server (a real HTTP server thread). The boxes poll, download, verify, apply and
report; the FUS stores the reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acs.cwmp.faults import FaultCode
from cpesim.download import make_image
from cpesim.unmanaged import (
    QrcError,
    UnmanagedBox,
    UnmanagedFleet,
    build_check,
    parse_check_response,
    qrc_url_of,
)
from fus.choices import MetadataMode
from fus.metadata import model as m
from fus.models import DownloadRecord, FirmwarePackage, UpdateReport
from fus.services.targeting import write_target_devices
from tests.fus.delivery_helpers import approved_package

pytestmark = pytest.mark.django_db(transaction=True)


def _unmanaged_package(tenants, version: str, serials: tuple[str, str], *, data: bytes):
    """An approved unmanaged package of A-STB whose metadata targets a RangeList of serials."""
    package = approved_package(tenants["dc_a"], version, data=data, actor=tenants["noc"])
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    package = FirmwarePackage.objects.get(pk=package.pk)
    write_target_devices(
        package,
        m.TargetDevices(
            device_groups=(
                m.DeviceGroup(
                    m.DeviceClassInfo("00D09E", "A-STB"), m.RangeList((m.Range(*serials),))
                ),
            )
        ),
        {("00D09E", "A-STB"): tenants["dc_a"]},
    )
    return package


def _box(serial: str, version: str = "1.0.0") -> UnmanagedBox:
    return UnmanagedBox("00D09E", "A-STB", serial, version, "1.0", "00:d0:9e:00:00:01")


@pytest.fixture
def fus(live_server, settings):
    settings.FUS_DOWNLOAD_BASE_URL = ""  # URLs on the origin the QRC was asked at
    settings.FUS_REPORT_RATE = 10_000
    return live_server.url


def test_boxes_poll_download_verify_apply_and_report(tenants, fus):
    image = make_image("2.0.0", oui="00D09E", product_class="A-STB", payload=os.urandom(200_000))
    package = _unmanaged_package(tenants, "2.0.0", ("SN1000", "SN1999"), data=image)
    inside, outside = _box("SN1500"), _box("SN3000")
    fleet = UnmanagedFleet([inside, outside], fus, poll_interval=3600)

    async def main():
        return [await fleet.poll_once(inside), await fleet.poll_once(outside)]

    done, nothing = asyncio.run(main())
    assert done is not None and done.result_code == 0 and done.reported
    assert inside.software_version == "2.0.0"
    assert nothing is None and outside.software_version == "1.0.0"
    assert fleet.stats["updated"] == 1 and fleet.stats["nothing"] == 1
    (report,) = UpdateReport.objects.all()
    assert (report.serial_number, report.from_version, report.to_version) == (
        "SN1500",
        "1.0.0",
        "2.0.0",
    )
    assert report.result_code == 0 and report.result == "success"
    assert report.package_id == package.pk and report.mac_address == "00:d0:9e:00:00:01"
    (download,) = DownloadRecord.objects.all()
    assert download.bytes_sent == len(image)
    # the next poll: the box runs 2.0.0 and is offered nothing more
    assert asyncio.run(fleet.poll_once(inside)) is None
    assert UpdateReport.objects.count() == 1


def test_bad_sha256_is_a_failure_report_and_the_version_stays(tenants, fus):
    image = make_image("2.1.0", oui="00D09E", product_class="A-STB", payload=os.urandom(50_000))
    package = _unmanaged_package(tenants, "2.1.0", ("SN1000", "SN1999"), data=image)
    # storage corrupts the file: same size (the download server still serves it), other bytes
    path = Path(package.files.get().file.path)
    corrupted = bytearray(path.read_bytes())
    corrupted[-1] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    box = _box("SN1001")
    fleet = UnmanagedFleet([box], fus)
    result = asyncio.run(fleet.poll_once(box))
    assert result.result_code == FaultCode.FILE_CORRUPTED and "does not match" in result.result_text
    assert box.software_version == "1.0.0"
    (report,) = UpdateReport.objects.all()
    assert report.result_code == 9018 and report.result == "failure"
    assert report.to_version == "2.1.0" and "SHA-256" in report.result_text


def test_the_loop_runs_until_stopped(tenants, fus):
    image = make_image("2.2.0", oui="00D09E", product_class="A-STB", payload=b"x" * 1000)
    _unmanaged_package(tenants, "2.2.0", ("SN1000", "SN1999"), data=image)
    boxes = [_box(f"SN{1000 + i}") for i in range(3)]
    fleet = UnmanagedFleet(boxes, fus + "/qrc", poll_interval=0.2)

    async def main():
        fleet.start(ramp_seconds=0.3)
        for _ in range(200):
            if all(b.software_version == "2.2.0" for b in boxes):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a few more polls: nothing more to take
        await fleet.stop()

    asyncio.run(main())
    assert [b.software_version for b in boxes] == ["2.2.0"] * 3
    assert UpdateReport.objects.filter(result_code=0).count() == 3
    assert fleet.stats["polls"] > 3 and fleet.stats["updated"] == 3


def test_qrc_url_and_report_url():
    assert qrc_url_of("http://fus:8000") == "http://fus:8000/qrc"
    assert qrc_url_of("http://fus:8000/qrc") == "http://fus:8000/qrc"
    assert UnmanagedFleet([], "http://fus:8000/qrc").report_url == "http://fus:8000/fus/report"
    assert UnmanagedFleet([], "http://fus:8000/").report_url == "http://fus:8000/fus/report"


def test_answers_that_are_faults_or_hostile_are_refused():
    fault = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        b"<faultcode>Client.SchemaValidationError</faultcode><faultstring>bad</faultstring>"
        b"</s:Fault></s:Body></s:Envelope>"
    )
    with pytest.raises(QrcError, match=r"Client\.SchemaValidationError"):
        parse_check_response(fault)
    with pytest.raises(QrcError, match="DOCTYPE"):
        parse_check_response(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    with pytest.raises(QrcError, match="larger than"):
        parse_check_response(b"<x>" + b" " * (2 * 1024 * 1024) + b"</x>")
    bad_sha = build_answer(sha="zz")
    with pytest.raises(QrcError, match=r"PackageFile\[1\]/SHA256"):
        parse_check_response(bad_sha)
    assert parse_check_response(build_answer())[0].files[0].unicast_urls() == [
        "http://a/firmware/1/f.img",
        "http://b/firmware/1/f.img",
    ]


def build_answer(sha: str = "a" * 64) -> bytes:
    return f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:q="urn:rms-fus-portal:qrc:1"><s:Body><q:FirmwareUpdateCheckResponse><q:Updates>
<q:FirmwareUpdate><q:SoftwareVersion>2</q:SoftwareVersion><q:PackageName>p</q:PackageName>
<q:PackageSize>5</q:PackageSize><q:UpdateDescriptor><q:UpdateFlag>automatic</q:UpdateFlag>
<q:UpdateMethod>immediate</q:UpdateMethod><q:UpdatePriority>1</q:UpdatePriority></q:UpdateDescriptor>
<q:Files><q:PackageFile><q:FileName>f.img</q:FileName><q:FileSize>5</q:FileSize>
<q:SHA256>{sha}</q:SHA256><q:Locations>
<q:Location><q:URL>dvb-mcast://239.1.1.1:5000</q:URL><q:Interface>Multicast Delivery</q:Interface>
<q:Preference>0</q:Preference></q:Location>
<q:Location><q:URL>http://b/firmware/1/f.img</q:URL><q:Interface>Unicast Delivery</q:Interface>
</q:Location>
<q:Location><q:URL>http://a/firmware/1/f.img</q:URL><q:Interface>Unicast Delivery</q:Interface>
<q:Preference>2</q:Preference></q:Location>
</q:Locations></q:PackageFile></q:Files></q:FirmwareUpdate></q:Updates>
</q:FirmwareUpdateCheckResponse></s:Body></s:Envelope>""".encode()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_parse_check_response_never_fails_otherwise(data):
    with contextlib.suppress(QrcError):
        parse_check_response(data)


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=64))
def test_check_request_escapes_identity(serial):
    from lxml import etree

    body = build_check(UnmanagedBox("00D09E", "A<&>", serial, "1.0"))
    root = etree.fromstring(body)
    ns = {"q": "urn:rms-fus-portal:qrc:1"}
    assert root.findtext(".//q:ProductClass", namespaces=ns) == "A<&>"
    assert root.findtext(".//q:SerialNumber", namespaces=ns) == serial


def test_command_line_unmanaged_mode(tenants, fus):
    from cpesim.cli import main

    image = make_image("2.3.0", oui="00D09E", product_class="A-STB", payload=b"y" * 5000)
    _unmanaged_package(tenants, "2.3.0", ("SN1000", "SN1999"), data=image)
    argv = ["--mode", "unmanaged", "--fus", fus, "--poll-interval", "0.5", "--duration", "3"]
    argv += ["--group", "00D09E:A-STB:2:1998:1.0.0:1.0", "--serial-format", "SN{:04d}"]
    argv += ["--stats-interval", "1"]
    assert main(argv) == 0
    reports = sorted(UpdateReport.objects.values_list("serial_number", "to_version", "result_code"))
    # SN2000 is outside the RangeList
    assert reports == [("SN1998", "2.3.0", 0), ("SN1999", "2.3.0", 0)]
