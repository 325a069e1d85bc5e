"""FUS/RMS entity services, the documents built from them, the public views and the NOC page."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from fus.choices import FirmwareStatus, MetadataMode
from fus.discovery import sdns, stub
from fus.metadata.identifiers import serial_index_key
from fus.models import FirmwarePackage, FusEntity, RmsEntity
from fus.models.targeting import RangeEntry, TargetEntry, TargetKind, TargetVersion, VersionKind
from fus.services import catalogue, entities
from fus.services.entities import EntityError, LocationSpec
from portal.models import AuditEvent
from tests.factories import make_package
from tests.fus.discovery.test_sdns import assert_valid

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:8000/firmware/"


def fus_entity(actor=None, *, fus_id="1", default=True, locations=None, **fields):
    entity = FusEntity(
        name=fields.pop("name", "Portal FUS"), fus_id=fus_id, is_default=default, **fields
    )
    if locations is None:
        locations = [
            LocationSpec("unicast", url=BASE, preference=1),
            LocationSpec("fus_query", url="http://127.0.0.1:8000/qrc", preference=1),
        ]
    return entities.save_fus_entity(entity, locations=locations, actor=actor)


def rms_entity(actor=None, *, rms_id="1", url="http://127.0.0.1:8000/cwmp"):
    entity = RmsEntity(name="Portal ACS", rms_id=rms_id, is_default=True)
    return entities.save_rms_entity(
        entity, locations=[LocationSpec("management_server", url=url)], actor=actor
    )


def approved(tenants, version="2.0.0", *, mode=MetadataMode.UNMANAGED, dc=None, **fields):
    package = make_package(dc or tenants["dc_a"], version, actor=tenants["supplier_a"], **fields)
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=mode)
    package.refresh_from_db()
    if package.status != FirmwareStatus.APPROVED:
        catalogue.approve_firmware(package, actor=tenants["noc"])
    package.refresh_from_db()
    return package


def set_targets(package, *entries):
    """Replace the package's target rows: entries are (kind, hardware, software, serial range)."""
    package.target_entries.all().delete()
    for position, (kind, hardware, software, serials) in enumerate(entries):
        entry = TargetEntry.objects.create(
            package=package,
            position=position,
            kind=kind,
            device_class=package.device_classes.first(),
            has_range_list=serials is not None,
        )
        for version in hardware:
            TargetVersion.objects.create(entry=entry, kind=VersionKind.HARDWARE, version=version)
        for version in software:
            TargetVersion.objects.create(entry=entry, kind=VersionKind.SOFTWARE, version=version)
        if serials:
            low, high = serials
            RangeEntry.objects.create(
                entry=entry,
                position=0,
                availability="inclusive",
                identifier_type="SerialNumber",
                lower=low,
                upper=high,
                serial_lo=serial_index_key(low),
                serial_hi=serial_index_key(high),
            )


# --- services ------------------------------------------------------------------------------------


def test_every_change_bumps_the_version_and_is_audited(tenants):
    admin = tenants["admin"]
    entity = fus_entity(admin)
    assert entity.sdns_version == 1 and entity.locations.count() == 2
    entity.description = "Lab FUS"
    entities.save_fus_entity(entity, actor=admin)
    assert FusEntity.objects.get().sdns_version == 2
    # The same data again: no new version, no audit row.
    before = AuditEvent.objects.count()
    entities.save_fus_entity(
        FusEntity.objects.get(),
        locations=[LocationSpec.of(loc) for loc in entity.locations.all()],
        actor=admin,
    )
    assert FusEntity.objects.get().sdns_version == 2 and AuditEvent.objects.count() == before
    # A location change alone bumps it, and is audited with the before/after lists.
    entities.save_fus_entity(
        FusEntity.objects.get(),
        locations=[LocationSpec("unicast", url="https://dl.example.net/firmware/")],
        actor=admin,
    )
    entity = FusEntity.objects.get()
    assert entity.sdns_version == 3
    event = AuditEvent.objects.filter(message__startswith="Locations of").latest("pk")
    assert event.actor == admin
    before_list, after_list = event.changes["locations"]
    assert len(before_list) == 2 and after_list[0]["url"] == "https://dl.example.net/firmware/"


def test_version_wraps_mod_256(tenants):
    entity = fus_entity()
    FusEntity.objects.filter(pk=entity.pk).update(sdns_version=255)
    entity = FusEntity.objects.get()
    entity.name = "Renamed"
    assert entities.save_fus_entity(entity).sdns_version == 0


def test_a_new_default_takes_the_flag_from_the_old_one(tenants):
    first = fus_entity(fus_id="1")
    second = fus_entity(fus_id="2", name="Second")
    first.refresh_from_db()
    assert second.is_default and not first.is_default and first.sdns_version == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LocationSpec("unicast", address="10.0.0.1"), "needs an http(s) URL"),
        (LocationSpec("fus_query", url="ftp://h/q"), "needs an http(s) URL"),
        (
            LocationSpec("multicast_announcement", address="10.0.0.1", port=9875, protocol="sap"),
            "not a multicast address",
        ),
        (
            LocationSpec("multicast_announcement", address="239.1.1.1", port=9875),
            "needs its Protocol",
        ),
        (LocationSpec("multicast_announcement", address="239.1.1.1"), "needs a Port"),
        (LocationSpec("unicast", url="http://h/a b"), "no white space"),
        (LocationSpec("management_server", url="http://h/cwmp"), "does not belong here"),
        (LocationSpec("unicast", url="http://h/", protocol="sap"), "Protocol only applies"),
        (LocationSpec("multicast", address="239.1.1.1", port=70000), "65535"),
    ],
)
def test_bad_locations_are_refused_naming_location_and_value(tenants, spec, message):
    with pytest.raises(EntityError) as caught:
        fus_entity(locations=[LocationSpec("unicast", url=BASE), spec])
    text = "; ".join(caught.value.messages)
    assert "Location 2" in text and message in text
    assert not FusEntity.objects.exists()  # nothing stored


def test_bad_fields_are_refused(tenants):
    with pytest.raises(EntityError, match="fus_id"):
        fus_entity(fus_id="12ab")
    fus_entity(fus_id="5")
    with pytest.raises(EntityError, match="fus_id"):
        fus_entity(fus_id="5", default=False)
    with pytest.raises(EntityError, match="Unknown interface"):
        fus_entity(fus_id="6", supported_interfaces=["Carrier pigeon"])


def test_rms_locations_must_be_management_servers(tenants):
    with pytest.raises(EntityError, match="does not belong here"):
        entities.save_rms_entity(
            RmsEntity(name="ACS", rms_id="1"), locations=[LocationSpec("unicast", url=BASE)]
        )


# --- the stub ------------------------------------------------------------------------------------


def test_stub_offers_approved_unmanaged_packages_at_the_file_url(tenants):
    fus_entity()
    package = approved(tenants, footprint_volatile=1000, signed_packaging=False)
    file = package.files.get()
    document = entities.build_stub()
    assert document.packages == (package,)
    (candidate,) = document.stub.candidates
    dc = tenants["dc_a"]
    assert candidate.device_class_info == stub.DeviceClassInfo(
        dc.oui, dc.product_class, None, "2.0.0"
    )
    assert candidate.software_package_info == stub.SoftwarePackageInfo(
        package.package_name, file.size, 1000, None, False
    )
    assert candidate.resource_access_info.url == f"{BASE}{package.pk}/{file.file_name}"
    assert entities.firmware_file_url(BASE, file) == candidate.resource_access_info.url


def test_stub_leaves_out_what_it_cannot_express_and_says_why(tenants):
    fus_entity()
    managed = approved(tenants, "1.0.0", mode=MetadataMode.MANAGED)
    ranged = approved(tenants, "3.0.0")
    set_targets(ranged, (TargetKind.DEVICE_GROUP, [], [], ("100", "200")))
    from_sw = approved(tenants, "4.0.0")
    set_targets(from_sw, (TargetKind.SOFTWARE, [], ["3.0.0"], None))
    hardware = approved(tenants, "5.0.0")
    set_targets(hardware, (TargetKind.HARDWARE, ["1.0", "1.1"], [], None))
    future = approved(tenants, "6.0.0")
    FirmwarePackage.objects.filter(pk=future.pk).update(
        valid_from=timezone.now() + timedelta(days=1)
    )
    document = entities.build_stub()
    reasons = {x.package.software_version: x.reason for x in document.excluded}
    assert "Mode managed" in reasons["1.0.0"]
    assert "RangeList" in reasons["3.0.0"]
    assert "current software 3.0.0" in reasons["4.0.0"]
    assert "ValidityTimeRange" in reasons["6.0.0"]
    assert document.packages == (hardware,)
    assert [c.device_class_info.hardware_version for c in document.stub.candidates] == [
        "1.0",
        "1.1",
    ]
    assert {managed, ranged, from_sw, future}.isdisjoint(document.packages)


def test_stub_needs_a_fus_with_a_unicast_location(tenants):
    package = approved(tenants)
    assert "no FUS entity" in entities.build_stub().excluded[0].reason
    fus_entity(locations=[LocationSpec("fus_query", url="http://h/qrc")])
    assert "no unicast location" in entities.build_stub().excluded[0].reason
    # The package's own FUS wins over the default.
    own = fus_entity(
        fus_id="9",
        default=False,
        locations=[LocationSpec("unicast", url="https://cdn.example/firmware/")],
    )
    FirmwarePackage.objects.filter(pk=package.pk).update(fus_entity=own)
    url = entities.build_stub().stub.candidates[0].resource_access_info.url
    assert url.startswith(f"https://cdn.example/firmware/{package.pk}/")


# --- the SD&S record -----------------------------------------------------------------------------


def test_sdns_record_for_several_entity_setups_is_schema_valid(tenants):
    # No entities at all.
    empty = entities.build_sdns("portal.example")
    assert empty.discovery == sdns.ServiceDiscovery()
    assert_valid(sdns.write(empty.discovery))
    # One FUS with every kind of location, one RMS with two ACS URLs, one RMS without any.
    fus_entity(
        locations=[
            LocationSpec(
                "multicast_announcement",
                address="239.255.1.1",
                port=9875,
                protocol="sap",
                preference=1,
            ),
            LocationSpec(
                "multicast_announcement",
                address="239.255.1.2",
                port=3937,
                protocol="dvbstp",
                preference=2,
            ),
            LocationSpec(
                "multicast_announcement", address="ff0e::1", port=9875, protocol="sap", preference=3
            ),
            LocationSpec("multicast_announcement", url="http://fus.example/announce"),
            LocationSpec("fus_query", url="http://fus.example/qrc", preference=2),
            LocationSpec("fus_query", url="https://fus.example/qrc", preference=1),
            LocationSpec("unicast", url=BASE),
        ],
        description="Lab FUS",
        source_address="192.0.2.10",
    )
    entities.save_rms_entity(
        RmsEntity(name="ACS", rms_id="7"),
        locations=[
            LocationSpec("management_server", url="https://acs.example/cwmp", preference=2),
            LocationSpec("management_server", url="https://acs-backup.example/cwmp", preference=1),
        ],
    )
    entities.save_rms_entity(RmsEntity(name="Idle ACS", rms_id="8"), locations=[])
    document = entities.build_sdns("portal.example")
    data = sdns.write(document.discovery)
    assert_valid(data)
    fus_record, rms_record = document.discovery.records
    (provider,) = fus_record.providers
    assert fus_record.version == 1 and provider.fus_id == "1"
    first, second = provider.announcements
    assert first.multicast_address == sdns.MulticastAddress(
        "239.255.1.1", 9875, "192.0.2.10", sdns.AnnouncementProtocol.SAP
    )
    assert first.qrc_location == "https://fus.example/qrc"  # preference 1 first
    assert first.unicast_announcement == "http://fus.example/announce"
    assert second.multicast_address.protocol is sdns.AnnouncementProtocol.DVBSTP
    assert [p.location for p in rms_record.providers] == [
        "https://acs-backup.example/cwmp",
        "https://acs.example/cwmp",
    ]
    assert any("ff0e::1" in n for n in document.notes)
    assert any("Idle ACS" in n for n in document.notes)
    assert sdns.parse(data) == document.discovery


def test_domain_name_setting_and_fallbacks(settings):
    settings.SDNS_DOMAIN_NAME = ""
    assert entities.sdns_domain_name("fus.example.net:8000") == "fus.example.net"
    assert entities.sdns_domain_name("127.0.0.1:8000") == "127.0.0.1"
    assert entities.sdns_domain_name("testserver") == "testserver.local"
    assert entities.sdns_domain_name("[::1]:8000") == "localhost.local"
    settings.SDNS_DOMAIN_NAME = "iptv.operator.example"
    assert entities.sdns_domain_name("whatever") == "iptv.operator.example"
    settings.SDNS_DOMAIN_NAME = "no-dot"
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="SDNS_DOMAIN_NAME='no-dot'"):
        entities.sdns_domain_name("x")


# --- views ---------------------------------------------------------------------------------------


def test_stub_view_public_both_forms_etag_and_head(tenants, client: Client):
    fus_entity()
    package = approved(tenants)
    response = client.get("/dvb-ipi-fus-stub.dvb")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = response.content
    assert stub.parse(body).candidates[0].device_class_info.software_version == "2.0.0"
    assert body.startswith(b"[_DVB-STUB-HEADER-v1.0]\n[DeviceClassInfo]\n")
    assert "max-age=60" in response["Cache-Control"] and response["Last-Modified"]
    compact = client.get("/dvb-ipi-fus-stub.dvb?form=compact")
    assert compact.content.splitlines()[1].startswith(b"1a=")
    assert stub.parse(compact.content) == stub.parse(body)
    assert compact["ETag"] != response["ETag"]
    # Conditional GET and HEAD.
    again = client.get("/dvb-ipi-fus-stub.dvb", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    head = client.head("/dvb-ipi-fus-stub.dvb")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(body)) and head["ETag"] == response["ETag"]
    # A change shows at once: a new ETag.
    catalogue.retire_firmware(package, actor=tenants["noc"], reason="recall")
    changed = client.get("/dvb-ipi-fus-stub.dvb", HTTP_IF_NONE_MATCH=response["ETag"])
    assert changed.status_code == 200 and changed.content == b"[_DVB-STUB-HEADER-v1.0]\n"


def test_stub_view_refuses_an_unknown_form_and_other_methods(client: Client, db):
    response = client.get("/dvb-ipi-fus-stub.dvb?form=short")
    assert response.status_code == 400 and b"form='short'" in response.content
    assert client.post("/dvb-ipi-fus-stub.dvb").status_code == 405


def test_sdns_view_public_xml(tenants, client: Client, settings):
    settings.SDNS_DOMAIN_NAME = ""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "fus.operator.example"]
    fus_entity()
    rms_entity()
    response = client.get("/sdns/rms-fus-discovery.xml", HTTP_HOST="fus.operator.example")
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert_valid(response.content)
    document = sdns.parse(response.content)
    assert {r.domain_name for r in document.records} == {"fus.operator.example"}
    assert [type(r.providers[0]) for r in document.records] == [sdns.FUSProvider, sdns.RMSProvider]
    assert response["ETag"] and response["Last-Modified"]
    not_modified = client.get(
        "/sdns/rms-fus-discovery.xml",
        HTTP_HOST="fus.operator.example",
        HTTP_IF_NONE_MATCH=response["ETag"],
    )
    assert not_modified.status_code == 304
    settings.SDNS_DOMAIN_NAME = "iptv.operator.example"
    assert (
        b'DomainName="iptv.operator.example"' in client.get("/sdns/rms-fus-discovery.xml").content
    )


def test_entities_page_for_noc_only(tenants, client: Client):
    fus_entity()
    rms_entity()
    approved(tenants, mode=MetadataMode.MANAGED)
    client.force_login(tenants["noc"])
    response = client.get("/catalogue/entities/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Portal FUS" in text and "Portal ACS" in text and "Mode managed" in text
    assert "/dvb-ipi-fus-stub.dvb" in text and "/sdns/rms-fus-discovery.xml" in text
    assert "Edit in admin" not in text  # NOC: view only
    client.force_login(tenants["admin"])
    assert "Edit in admin" in client.get("/catalogue/entities/").content.decode()
    for name in ("helpdesk", "supplier_a"):
        client.force_login(tenants[name])
        assert client.get("/catalogue/entities/").status_code == 403
    client.logout()
    assert client.get("/catalogue/entities/").status_code == 302


def test_seed_demo_creates_the_default_entities(client: Client, settings):
    from django.core.management import call_command

    settings.SDNS_DOMAIN_NAME = ""
    for _ in range(2):  # idempotent
        call_command("seed_demo", stdout=io.StringIO())
    fus = FusEntity.objects.get(is_default=True)
    assert [(loc.kind, loc.url) for loc in fus.locations.all()] == [
        ("fus_query", "http://127.0.0.1:8000/qrc"),
        ("unicast", "http://127.0.0.1:8000/firmware/"),
    ]
    assert RmsEntity.objects.get().locations.get().url == "http://127.0.0.1:8000/cwmp"
    response = client.get("/sdns/rms-fus-discovery.xml")
    assert_valid(response.content)
    assert b"<QRCLocation>http://127.0.0.1:8000/qrc</QRCLocation>" in response.content
    assert b'RMSLocation="http://127.0.0.1:8000/cwmp"' in response.content
    assert stub.parse(client.get("/dvb-ipi-fus-stub.dvb").content) is not None
