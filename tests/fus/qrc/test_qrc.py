"""The QRC at /qrc: WSDL per request, FirmwareUpdateCheck answers from the targeting engine, SOAP
faults for bad input (and nothing stored), the optional digest challenge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from acs import digest
from fus.choices import MetadataMode
from fus.delivery.auth import box_password
from fus.metadata import model as m
from fus.models import (
    DownloadRecord,
    FirmwarePackage,
    FusEntity,
    ServiceLocation,
    UpdateReport,
)
from fus.models.entities import LocationKind
from fus.services.targeting import write_target_devices
from tests.fus.delivery_helpers import approved_package

NS = "urn:rms-fus-portal:qrc:1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
Q = {"q": NS, "s": SOAP}


def envelope(
    oui="00D09E",
    product_class="A-STB",
    hardware="1.0",
    software="1.0.0",
    serial="SN1000",
    mac=None,
    extra="",
) -> bytes:
    mac_xml = f"<q:MACAddress>{mac}</q:MACAddress>" if mac is not None else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{SOAP}" xmlns:q="{NS}"><s:Body><q:FirmwareUpdateCheck>
<q:ManufacturerOUI>{oui}</q:ManufacturerOUI><q:ProductClass>{product_class}</q:ProductClass>
<q:HardwareVersion>{hardware}</q:HardwareVersion><q:SoftwareVersion>{software}</q:SoftwareVersion>
<q:SerialNumber>{serial}</q:SerialNumber>{mac_xml}{extra}
</q:FirmwareUpdateCheck></s:Body></s:Envelope>""".encode()


def post(client, body: bytes, **headers):
    return client.post("/qrc", data=body, content_type="text/xml; charset=utf-8", headers=headers)


def updates(response) -> list[etree._Element]:
    assert response.status_code == 200, response.content
    root = etree.fromstring(response.content)
    (answer,) = root.xpath("/s:Envelope/s:Body/q:FirmwareUpdateCheckResponse", namespaces=Q)
    return answer.xpath("q:Updates/q:FirmwareUpdate", namespaces=Q)


def fault(response) -> tuple[str, str]:
    assert response.status_code == 500, response.content
    root = etree.fromstring(response.content)
    (node,) = root.xpath("//s:Fault", namespaces=Q)
    return node.findtext("faultcode"), node.findtext("faultstring")


def text(node, path) -> str:
    return node.xpath(f"string({path})", namespaces=Q)


@pytest.fixture
def unmanaged(tenants):
    """An approved unmanaged package 2.0.0 for Alpha's A-STB class (DeviceClass target)."""
    package = approved_package(
        tenants["dc_a"], "2.0.0", update_priority=2, message_descriptor="Faster zapping."
    )
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    return FirmwarePackage.objects.get(pk=package.pk)


# --- WSDL -----------------------------------------------------------------------------------------


def test_wsdl_address_follows_each_request(client, db):
    first = client.get("/qrc?wsdl", HTTP_HOST="127.0.0.1")
    second = client.get("/qrc?wsdl", HTTP_HOST="localhost", secure=True)
    assert first.status_code == second.status_code == 200

    def address(response):
        root = etree.fromstring(response.content)
        (loc,) = root.xpath(
            "//soap:address/@location",
            namespaces={"soap": "http://schemas.xmlsoap.org/wsdl/soap/"},
        )
        return loc

    assert address(first) == "http://127.0.0.1/qrc"
    assert address(second) == "https://localhost/qrc"
    root = etree.fromstring(second.content)
    wsdl = {"w": "http://schemas.xmlsoap.org/wsdl/"}
    assert root.xpath("//w:portType/w:operation/@name", namespaces=wsdl) == ["FirmwareUpdateCheck"]
    assert "FirmwareUpdateCheckResponse" in root.xpath("//w:message/@name", namespaces=wsdl)


# --- answers --------------------------------------------------------------------------------------


def test_targeted_box_gets_the_update_with_files_and_urls(client, unmanaged, settings):
    settings.FUS_DOWNLOAD_BASE_URL = ""
    (update,) = updates(post(client, envelope()))
    image = unmanaged.files.get()
    assert text(update, "q:SoftwareVersion") == "2.0.0"
    assert text(update, "q:PackageName") == unmanaged.package_name
    assert int(text(update, "q:PackageSize")) == image.size
    assert text(update, "q:UpdateDescriptor/q:UpdatePriority") == "2"
    assert text(update, "q:UpdateDescriptor/q:UpdateFlag") == "automatic"
    assert text(update, "q:MessageDescriptor") == "Faster zapping."
    (file,) = update.xpath("q:Files/q:PackageFile", namespaces=Q)
    assert text(file, "q:FileName") == "image.bin"
    assert text(file, "q:SHA256") == image.sha256
    assert int(text(file, "q:FileSize")) == image.size
    (location,) = file.xpath("q:Locations/q:Location", namespaces=Q)
    # no FUS entity, no FUS_DOWNLOAD_BASE_URL: the origin the box used
    assert text(location, "q:URL") == f"http://testserver/firmware/{unmanaged.pk}/image.bin"
    assert text(location, "q:Interface") == "Unicast Delivery"
    # and that URL really serves the file
    response = client.get(f"/firmware/{unmanaged.pk}/image.bin")
    with open(image.file.path, "rb") as fh:
        assert b"".join(response.streaming_content) == fh.read()


def test_nothing_applies_gives_an_empty_list(client, unmanaged):
    assert updates(post(client, envelope(software="2.0.0"))) == []  # already on it
    assert updates(post(client, envelope(product_class="OTHER"))) == []
    assert updates(post(client, envelope(oui="3C62F0", product_class="B-STB"))) == []


def test_managed_packages_are_not_offered_by_default(client, unmanaged, settings):
    FirmwarePackage.objects.filter(pk=unmanaged.pk).update(mode=MetadataMode.MANAGED)
    assert updates(post(client, envelope())) == []
    settings.FUS_QRC_MODE = "any"
    assert len(updates(post(client, envelope()))) == 1


def test_validity_window_is_respected_and_reported(client, unmanaged):
    now = timezone.now()
    FirmwarePackage.objects.filter(pk=unmanaged.pk).update(
        valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1)
    )
    (update,) = updates(post(client, envelope()))
    assert text(update, "q:ValidityTimeRange/q:StartTime")
    assert text(update, "q:ValidityTimeRange/q:EndTime")
    FirmwarePackage.objects.filter(pk=unmanaged.pk).update(
        valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=2)
    )
    assert updates(post(client, envelope())) == []


def test_range_list_targets_only_its_serials_best_first(client, tenants, unmanaged):
    """A wave-like DeviceGroup package outranks the class-wide one for its serials only."""
    wave = approved_package(tenants["dc_a"], "2.1.0")
    FirmwarePackage.objects.filter(pk=wave.pk).update(mode=MetadataMode.UNMANAGED)
    write_target_devices(
        wave,
        m.TargetDevices(
            device_groups=(
                m.DeviceGroup(
                    m.DeviceClassInfo("00D09E", "A-STB"),
                    m.RangeList(
                        (m.Range("SN1000", "SN1999"), m.Item(("SN1500",), m.Availability.EXCLUSIVE))
                    ),
                ),
            )
        ),
        {("00D09E", "A-STB"): tenants["dc_a"]},
    )
    versions = [
        text(u, "q:SoftwareVersion") for u in updates(post(client, envelope(serial="SN1200")))
    ]
    assert versions == ["2.1.0", "2.0.0"]
    versions = [
        text(u, "q:SoftwareVersion") for u in updates(post(client, envelope(serial="SN1500")))
    ]
    assert versions == ["2.0.0"]
    versions = [
        text(u, "q:SoftwareVersion") for u in updates(post(client, envelope(serial="SN3000")))
    ]
    assert versions == ["2.0.0"]


def test_fus_entity_locations_by_interface_and_preference(client, unmanaged, settings):
    settings.FUS_DOWNLOAD_BASE_URL = "http://fallback.example"
    fus = FusEntity.objects.create(name="FUS", fus_id="1", is_default=True)
    ServiceLocation.objects.create(
        fus=fus, kind=LocationKind.UNICAST, url="https://cdn2.example/firmware/", preference=2
    )
    ServiceLocation.objects.create(
        fus=fus, kind=LocationKind.UNICAST, url="https://cdn1.example", preference=1
    )
    ServiceLocation.objects.create(
        fus=fus,
        kind=LocationKind.MULTICAST,
        url="dvb-mcast://10.0.0.1@239.1.1.1:5000?payload=mp2t",
        preference=3,
    )
    ServiceLocation.objects.create(
        fus=fus, kind=LocationKind.MULTICAST, address="ff3e::1", port=4000
    )
    (update,) = updates(post(client, envelope()))
    locations = [
        (text(loc, "q:URL"), text(loc, "q:Interface"), text(loc, "q:Preference"))
        for loc in update.xpath("q:Files/q:PackageFile/q:Locations/q:Location", namespaces=Q)
    ]
    path = f"/firmware/{unmanaged.pk}/image.bin"
    assert locations == [
        (f"https://cdn1.example{path}", "Unicast Delivery", "1"),
        (f"https://cdn2.example{path}", "Unicast Delivery", "2"),
        ("dvb-mcast://10.0.0.1@239.1.1.1:5000?payload=mp2t", "Multicast Delivery", "3"),
        ("dvb-mcast://[ff3e::1]:4000", "Multicast Delivery", ""),
    ]


def test_signed_urls_are_signed_for_the_asking_box(client, unmanaged, settings):
    settings.FUS_DOWNLOAD_AUTH = "signed-url"
    (update,) = updates(post(client, envelope(serial="SN1234")))
    url = text(update, "q:Files/q:PackageFile/q:Locations/q:Location/q:URL")
    assert "box=00D09E-SN1234" in url and "sig=" in url
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    assert DownloadRecord.objects.get().box == "00D09E-SN1234"


# --- faults: bad input, nothing stored ------------------------------------------------------------


def _nothing_stored():
    assert not UpdateReport.objects.exists()
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<not-xml", "Client.XMLSyntaxError"),
        (envelope(oui="XYZ123"), "Client.SchemaValidationError"),  # wrong type (pattern)
        (envelope(serial="S" * 65), "Client.SchemaValidationError"),  # too long
        (envelope(extra="<q:Unknown>1</q:Unknown>"), "Client.SchemaValidationError"),
        (
            envelope().replace(b"<q:SerialNumber>SN1000</q:SerialNumber>", b""),
            "Client.SchemaValidationError",
        ),
        (envelope(serial="<b>nested</b>"), "Client.SchemaValidationError"),
        (b" ", "Client.EmptyRequest"),
    ],
)
def test_malformed_requests_are_soap_faults(client, unmanaged, body, code):
    got, message = fault(post(client, body))
    assert got == f"soap11env:{code}", message
    _nothing_stored()


def test_external_entities_are_refused_before_parsing(client, unmanaged, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = envelope(serial="&xxe;").replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode(),
    )
    response = post(client, body)
    code, _ = fault(response)
    assert code == "soap11env:Client.DTDForbidden"
    assert b"TOP-SECRET" not in response.content
    _nothing_stored()


def test_oversized_requests_are_refused(client, unmanaged, settings):
    settings.FUS_QRC_MAX_BODY = 2048
    body = envelope(extra="<!--" + "x" * 4000 + "-->")
    code, message = fault(post(client, body))
    assert code == "soap11env:Client.RequestTooLong" and "2048" in message
    _nothing_stored()


def test_other_methods_are_refused(client, db):
    assert client.put("/qrc", data=b"x").status_code == 405


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: envelope(serial=t)))
def test_fuzzed_bodies_get_an_answer_or_a_soap_fault(client, unmanaged, body):
    response = post(client, body)
    assert response.status_code in (200, 500)
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{SOAP}}}Envelope"
    if response.status_code == 500:
        assert root.xpath("//s:Fault/faultcode", namespaces=Q)


# --- digest --------------------------------------------------------------------------------------


def test_digest_challenge_and_per_box_credentials(client, unmanaged, settings):
    settings.FUS_QRC_AUTH = "digest"
    challenge = post(client, envelope(serial="SN1001"))
    assert challenge.status_code == 401
    (chal,) = digest.parse_challenges([challenge["WWW-Authenticate"]])

    def auth(user, password, nc):
        return digest.client_authorization(
            chal, username=user, password=password, method="POST", uri="/qrc", nc=nc
        )

    user = "00D09E-SN1001"
    assert (
        post(client, envelope(serial="SN1001"), Authorization=auth(user, "guess", 1)).status_code
        == 401
    )
    ok = post(client, envelope(serial="SN1001"), Authorization=auth(user, box_password(user), 2))
    assert len(updates(ok)) == 1
    # a box may only ask about itself
    other = post(client, envelope(serial="SN9999"), Authorization=auth(user, box_password(user), 3))
    code, message = fault(other)
    assert code == "soap11env:Client.Authentication" and "00D09E-SN9999" in message


def test_query_budget(client, unmanaged, django_assert_max_num_queries):
    """A check costs the targeting decision, plus the packages, files and locations when some
    update applies: never a query per package or per file."""
    wave = approved_package(unmanaged.device_classes.get(), "2.2.0")
    FirmwarePackage.objects.filter(pk=wave.pk).update(mode=MetadataMode.UNMANAGED)
    post(client, envelope())  # warm caches
    with django_assert_max_num_queries(4):
        assert len(updates(post(client, envelope()))) == 2
    with django_assert_max_num_queries(1):
        assert updates(post(client, envelope(product_class="OTHER"))) == []


@pytest.mark.django_db(transaction=True)
def test_the_asgi_path_answers(tenants):
    """The QRC under Django's ASGI handler (as uvicorn runs it): body read through ASGIRequest."""
    from django.core.handlers.asgi import ASGIHandler

    from tests.asgi_client import call

    package = approved_package(tenants["dc_a"], "2.0.0")
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    status, _, answer = call(ASGIHandler(), envelope(), path="/qrc")
    assert status == 200, answer
    root = etree.fromstring(answer)
    versions = root.xpath("//q:FirmwareUpdate/q:SoftwareVersion/text()", namespaces=Q)
    assert versions == ["2.0.0"]
    urls = root.xpath("//q:Location/q:URL/text()", namespaces=Q)
    assert urls and urls[0].endswith(f"/firmware/{package.pk}/image.bin")
