"""Metadata import and export: the commands, REST, the supplier portal, and refused documents
(each with a clear message and nothing stored)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from fus.choices import FirmwareStatus
from fus.metadata import codec
from fus.metadata import model as m
from fus.models import (
    DeviceClass,
    FirmwarePackage,
    FusEntity,
    Manufacturer,
    RangeEntry,
    RmsEntity,
    TargetEntry,
)
from fus.services import catalogue
from fus.services.metadata import MetadataImportError, export_metadata, import_metadata
from portal.choices import AuditKind
from portal.models import AuditEvent
from tests.fus.metadata import strategies as S
from tests.fus.test_targeting_db import _normalised as targets

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "metadata" / "data"
RMS12_DOC = (DATA / "managed-rms12.xml").read_bytes()
SEED_DOC = (DATA / "seed-example-rms.xml").read_bytes()


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Manufacturer, DeviceClass, FirmwarePackage, TargetEntry, RangeEntry)
    }


def _import_file(tmp_path, data: bytes, *args: str) -> tuple[str, str]:
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    out, err = StringIO(), StringIO()
    call_command("import_metadata", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- the command ---------------------------------------------------------------------------------


def test_import_command_creates_everything_and_prints_a_summary(tmp_path):
    out, _ = _import_file(tmp_path, RMS12_DOC)
    package = FirmwarePackage.objects.get()
    assert package.package_name == "stb7100-2.0.1" and package.status == FirmwareStatus.DRAFT
    assert package.manufacturer.name == "Example STB Co."
    assert package.manufacturer.reporting_orders_url == "https://reports.example.com/ssu"
    assert sorted(map(str, DeviceClass.objects.all())) == ["00D09E-STB7000", "00D09E-STB7100"]
    assert package.declared_package_size == 1048576
    assert package.declared_files[0]["file_name"] == "kernel.bin"
    assert package.message_language == "eng"
    assert package.target_entries.count() == 2
    assert "Created package 'stb7100-2.0.1'" in out
    assert "Target entries: 2 (7 RangeList bounds/items)" in out
    assert "decimal FUSID" in out  # fus-1 cannot become an SD&S FUS entity: said, not hidden
    assert AuditEvent.objects.filter(kind=AuditKind.METADATA_IMPORTED).count() == 1


def test_export_command_writes_what_was_imported(tmp_path):
    _import_file(tmp_path, RMS12_DOC)
    out = StringIO()
    call_command("export_metadata", str(FirmwarePackage.objects.get().pk), stdout=out)
    exported = codec.parse(out.getvalue().encode())
    original = codec.parse(RMS12_DOC)
    assert exported.firmware_upgrade == original.firmware_upgrade
    assert exported.mode == original.mode
    assert exported.target_devices_info == original.target_devices_info
    assert exported.ce_manufacturer == original.ce_manufacturer


def test_export_command_unknown_package():
    with pytest.raises(CommandError, match="no firmware package with id 999"):
        call_command("export_metadata", "999", stdout=StringIO())


def test_reimport_updates_the_package_and_its_targets(tmp_path):
    _import_file(tmp_path, RMS12_DOC)
    changed = RMS12_DOC.replace(b"<rms12:UpdatePriority>2<", b"<rms12:UpdatePriority>1<").replace(
        b"<rms12:LowerBound>123123<", b"<rms12:LowerBound>123000<"
    )
    out, _ = _import_file(tmp_path, changed)
    package = FirmwarePackage.objects.get()
    assert "Updated package" in out
    assert package.update_priority == 1
    assert RangeEntry.objects.filter(lower="123000").count() == 1
    assert RangeEntry.objects.filter(lower="123123").count() == 0


def test_operator_entities_are_created_and_linked_by_id(tmp_path):
    doc = RMS12_DOC.replace(b"<rms12:FUSID>fus-1<", b"<rms12:FUSID>7<").replace(
        b"<rms12:RMSID>acs-1<", b"<rms12:RMSID>3<"
    )
    _import_file(tmp_path, doc)
    fus, rms = FusEntity.objects.get(), RmsEntity.objects.get()
    assert (fus.fus_id, fus.name, fus.delivery_rate) == ("7", "FUS one", 2000000)
    assert [loc.kind for loc in fus.locations.order_by("pk")] == ["fus_query", "multicast"]
    assert rms.locations.count() == 2
    package = FirmwarePackage.objects.get()
    assert (package.fus_entity, package.rms_entity) == (fus, rms)
    exported = codec.parse(export_metadata(package))
    assert exported.fus == codec.parse(doc).fus
    assert exported.rms == codec.parse(doc).rms


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(upgrade=S.firmware_upgrades(S.SMALL), mode=st.sampled_from(m.Mode))
def test_import_then_export_round_trips(upgrade, mode):
    """Any FirmwareUpgrade of the small universe survives import and export, up to what the
    catalogue normalises (a repeated version, an absent descriptor written with its defaults)."""
    from django.db import transaction

    doc = m.RMSFUSMetadata(mode, m.CEManufacturer("00D09E", "Maker"), upgrade)
    with transaction.atomic():
        maker = Manufacturer.objects.create(name="Maker")
        catalogue.set_manufacturer_ouis(maker, ["00D09E", "A0B1C2"])
        summary = import_metadata(codec.write(doc), actor=None)
        exported = codec.parse(export_metadata(summary.package)).firmware_upgrade
        assert exported == _normalised(upgrade)
        transaction.set_rollback(True)


def _normalised(upgrade: m.FirmwareUpgrade) -> m.FirmwareUpgrade:
    from dataclasses import replace

    info = upgrade.software_package_info
    descriptor = info.update_descriptor or m.UpdateDescriptor(
        m.UpdateFlag.AUTOMATIC, m.UpdateMethod.NEXT_RESTART, 3
    )
    footprint = info.footprint_size
    if footprint is not None and footprint.volatile is None and footprint.non_volatile is None:
        footprint = None
    messages = upgrade.message_descriptors
    if messages and not messages[0].text and messages[0].language is None:
        messages = messages[1:]
    files = tuple(  # an empty ModuleType/VendorSpecificInfo is stored as "not given"
        replace(
            f,
            module_type=f.module_type or None,
            vendor_specific_info=f.vendor_specific_info or None,
        )
        for f in info.package_files
    )
    return replace(
        upgrade,
        target_devices=targets(upgrade.target_devices),
        software_package_info=replace(
            info,
            package_files=files,
            update_descriptor=descriptor,
            footprint_size=footprint,
            image_packaging=info.image_packaging or m.ImagePackaging(),
        ),
        message_descriptors=messages,
    )


# --- refused documents: a clear message, nothing stored ------------------------------------------

XXE = RMS12_DOC.replace(
    b'<?xml version="1.0" encoding="UTF-8"?>\n',
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
)
BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + ']>\n<r xmlns="urn:x-rms-fus-portal:metadata:rms:2009">&l9;</r>'
).encode()
RANGE = b"<rms12:LowerBound>123123</rms12:LowerBound><rms12:UpperBound>456456</rms12:UpperBound>"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (XXE, "DOCTYPE"),
        (BOMB, "DOCTYPE"),
        (RMS12_DOC + b" " * (100 * 1024 * 1024), "limit"),
        (RMS12_DOC.replace(b"metadata:rms12:2012", b"metadata:other"), "wrong namespace"),
        (
            RMS12_DOC.replace(
                b"<rms12:ManufacturerOUI>00D09E</rms12:ManufacturerOUI>\n    <rms12:ManufacturerName>",
                b"<rms12:ManufacturerOUI>00D0XE</rms12:ManufacturerOUI>\n    <rms12:ManufacturerName>",
            ),
            "ManufacturerOUI",
        ),
        (
            RMS12_DOC.replace(
                RANGE,
                b"<rms12:LowerBound>456456</rms12:LowerBound><rms12:UpperBound>123123</rms12:UpperBound>",
            ),
            "456456",
        ),
        (
            RMS12_DOC.replace(b"<rms12:EndTime>2025-12-31", b"<rms12:EndTime>2024-12-31"),
            "EndTime",
        ),
        (
            RMS12_DOC.replace(b"<rms12:ItemID>678688<", b"<rms12:ItemID>678678<"),
            "678678",
        ),
        (RMS12_DOC.replace(b"<rms12:Mode>", b"<rms12:Bogus/><rms12:Mode>"), "Bogus"),
    ],
    ids=[
        "external-entity",
        "entity-bomb",
        "100MB",
        "wrong-namespace",
        "non-hex-oui",
        "inverted-range",
        "end-before-start",
        "duplicate-itemid",
        "unknown-element",
    ],
)
def test_refused_documents_store_nothing(tmp_path, data, expected):
    before = _counts()
    with pytest.raises(CommandError, match="1 of 1 file"):
        _import_file(tmp_path, data)
    assert _counts() == before
    event = AuditEvent.objects.get(kind=AuditKind.METADATA_IMPORT_REJECTED)
    assert any(expected in e for e in event.details["errors"]), event.details["errors"]


def test_refusal_names_line_path_and_value(tmp_path):
    data = RMS12_DOC.replace(RANGE, RANGE.replace(b"123123", b"456457"))
    path = tmp_path / "doc.xml"
    path.write_bytes(data)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_metadata", str(path), stdout=StringIO(), stderr=err)
    text = err.getvalue()
    assert "refused, nothing stored" in text
    assert "line 39" in text and "RangeList/Range[1]" in text and "456457" in text


def test_catalogue_rules_refuse_the_whole_document(tenants):
    """A target OUI of another manufacturer, a SoftwareVersion clash, an approved package."""
    a = tenants["a"]
    doc = codec.parse(RMS12_DOC)
    theirs = m.DeviceClass("3C62F0", "B-STB")  # Beta's OUI
    bad = _with_targets(doc, (m.DeviceClass("00D09E", "NEW"), theirs))
    before = _counts()
    with pytest.raises(MetadataImportError) as info:
        import_metadata(codec.write(bad), actor=None)
    assert "3C62F0 is not an OUI of Alpha" in str(info.value.messages)
    assert _counts() == before  # not even the first (valid) device class

    summary = import_metadata(RMS12_DOC, actor=None)
    assert summary.package.manufacturer == a
    FirmwarePackage.objects.filter(pk=summary.package.pk).update(status=FirmwareStatus.APPROVED)
    with pytest.raises(MetadataImportError, match="approved and can no longer change"):
        import_metadata(RMS12_DOC, actor=None)
    renamed = RMS12_DOC.replace(b">stb7100-2.0.1<", b">other-name<")
    with pytest.raises(MetadataImportError, match=r"SoftwareVersion '2\.0\.1' already exists"):
        import_metadata(renamed, actor=None)


def _with_targets(doc: m.RMSFUSMetadata, targets) -> m.RMSFUSMetadata:
    from dataclasses import replace

    return replace(
        doc,
        firmware_upgrade=replace(
            doc.firmware_upgrade, target_devices=m.TargetDevices(device_classes=targets)
        ),
    )


# --- suppliers, REST -----------------------------------------------------------------------------


def test_supplier_imports_for_its_own_manufacturer_only(tenants):
    with pytest.raises(MetadataImportError, match="not an OUI of Beta, which you import for"):
        import_metadata(RMS12_DOC, actor=tenants["supplier_b"])
    summary = import_metadata(RMS12_DOC, actor=tenants["supplier_a"])
    assert summary.package.manufacturer == tenants["a"]
    # a supplier cannot create the operator's FUS/RMS entities
    doc = RMS12_DOC.replace(b">fus-1<", b">7<").replace(b">stb7100-2.0.1<", b">p2<")
    doc = doc.replace(b"<rms12:SoftwareVersion>2.0.1<", b"<rms12:SoftwareVersion>2.0.2<")
    summary = import_metadata(doc, actor=tenants["supplier_a"])
    assert not FusEntity.objects.exists()
    assert any("not one of this operator's" in w for w in summary.warnings)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_rest_import_as_body_and_as_file_then_export(tenants):
    client = _api(tenants["supplier_a"])
    response = client.post(
        "/api/firmware/import-metadata/", RMS12_DOC, content_type="application/xml"
    )
    assert response.status_code == 201, response.content
    package_id = response.json()["package"]
    upload = SimpleUploadedFile("m.xml", RMS12_DOC, content_type="text/xml")
    response = client.post("/api/firmware/import-metadata/", {"file": upload}, format="multipart")
    assert response.status_code == 200 and response.json()["created"] is False

    response = client.get(f"/api/firmware/{package_id}/metadata.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert codec.parse(response.content).firmware_upgrade.software_version == "2.0.1"
    assert (
        _api(tenants["supplier_b"]).get(f"/api/firmware/{package_id}/metadata.xml").status_code
        == 404
    )
    assert (
        _api(tenants["helpdesk"])
        .post("/api/firmware/import-metadata/", RMS12_DOC, content_type="application/xml")
        .status_code
        == 403
    )


def test_rest_import_refusal_is_a_400_with_every_problem(tenants):
    response = _api(tenants["noc"]).post(
        "/api/firmware/import-metadata/",
        RMS12_DOC.replace(b"<rms12:Mode>managed<", b"<rms12:Mode>sometimes<"),
        content_type="application/xml",
    )
    assert response.status_code == 400
    assert "sometimes" in str(response.json())
    assert not FirmwarePackage.objects.exists()


def test_validation_checks_the_declared_files(tenants):
    from fus.uploads import incoming_from_bytes

    unsigned = RMS12_DOC.replace(b'SignedPackaging="1"', b'SignedPackaging="0"')
    package = import_metadata(unsigned, actor=None).package
    upload = catalogue.FirmwareUpload(image=incoming_from_bytes("kernel.bin", b"x" * 1000))
    catalogue.add_firmware_file(package, upload, actor=None)
    with pytest.raises(catalogue.CatalogueError) as info:
        catalogue.validate_firmware(package, actor=None)
    assert "the metadata declares 524,288 (FileSize)" in str(info.value.messages)


# --- pages ---------------------------------------------------------------------------------------


def test_supplier_imports_through_the_portal_and_sees_the_metadata_page(client, tenants):
    from acs.models import Device

    client.force_login(tenants["supplier_a"])
    page = client.get("/supplier/import-metadata/")
    assert page.status_code == 200
    bad = SimpleUploadedFile(
        "bad.xml", RMS12_DOC.replace(b"<rms12:Mode>managed<", b"<rms12:Mode>x<")
    )
    response = client.post("/supplier/import-metadata/", {"document": bad})
    assert response.status_code == 200
    assert "nothing was stored" in response.content.decode()
    assert "Mode" in response.content.decode()
    assert not FirmwarePackage.objects.exists()

    for serial in ("123123", "240000", "678678", "999999"):
        Device.objects.create(
            oui="00D09E", product_class="STB7100", serial_number=serial, software_version="1.9.0"
        )
    good = SimpleUploadedFile("good.xml", RMS12_DOC)
    response = client.post("/supplier/import-metadata/", {"document": good})
    package = FirmwarePackage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/catalogue/firmware/{package.pk}/metadata/"
    page = client.get(response["Location"]).content.decode()
    assert "123123" in page and "except" in page and "678678" in page
    assert 'data-testid="validity-timeline"' in page
    # 123123 and 678678 are in; 240000 is excluded; 999999 is outside; but the validity window
    # (2025) is over, so nobody is targeted now.
    assert "0 devices of the inventory" in page
    xml = client.get(f"/catalogue/firmware/{package.pk}/metadata.xml")
    assert codec.parse(xml.content).firmware_upgrade.software_version == "2.0.1"

    client.force_login(tenants["supplier_b"])
    assert client.get(f"/catalogue/firmware/{package.pk}/metadata/").status_code == 404
    assert client.get(f"/catalogue/firmware/{package.pk}/metadata.xml").status_code == 404


def test_metadata_page_counts_the_population_now(client, tenants):
    from acs.models import Device

    doc = RMS12_DOC.replace(b"<rms12:EndTime>2025-12-31", b"<rms12:EndTime>2099-12-31")
    package = import_metadata(doc, actor=None).package
    for i, serial in enumerate(("123123", "240000", "678678", "999999", "123124")):
        Device.objects.create(
            oui="00D09E",
            product_class="STB7100",
            serial_number=serial,
            software_version="1.9.0",
            # the RangeList excludes one MAC, so a box must report its MAC to be targeted
            mac_address=f"00:d0:9e:00:10:{i:02x}" if serial != "123124" else "",
        )
    client.force_login(tenants["noc"])
    page = client.get(f"/catalogue/firmware/{package.pk}/metadata/").content.decode()
    assert "2 devices of the inventory" in page
    assert client.get("/catalogue/firmware/import-metadata/").status_code == 200
    client.force_login(tenants["helpdesk"])
    assert client.get("/catalogue/firmware/import-metadata/").status_code == 403
