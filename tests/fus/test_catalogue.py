"""Catalogue services: uploads, signatures, lifecycle, and bad input that must store nothing."""

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from fus.choices import FirmwareStatus
from fus.models import DeviceClass, FirmwareFile, FirmwarePackage, ManufacturerOUI
from fus.services import catalogue
from portal.choices import AuditKind
from portal.models import AuditEvent
from tests.conftest import incoming_leftovers
from tests.factories import draft, make_package, upload
from tests.fus import pki

pytestmark = pytest.mark.django_db


def messages(exc: ValidationError) -> str:
    return " | ".join(exc.messages)


# --- manufacturers and device classes ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["00D09G", "00D09", "00D09E1", "zz-zz-zz", "0x00D0"])
def test_bad_oui_is_refused_naming_the_value(tenants, bad):
    before = list(ManufacturerOUI.objects.values_list("oui", flat=True))
    with pytest.raises(ValidationError) as exc:
        catalogue.set_manufacturer_ouis(tenants["a"], ["00D09E", bad])
    assert bad in messages(exc.value)
    assert "six hexadecimal digits" in messages(exc.value)
    assert list(ManufacturerOUI.objects.values_list("oui", flat=True)) == before


def test_oui_forms_are_normalised_and_unique_across_manufacturers(tenants):
    assert catalogue.set_manufacturer_ouis(tenants["a"], ["00-d0-9e", "00:D0:9F"]) == [
        "00D09E",
        "00D09F",
    ]
    with pytest.raises(ValidationError, match=r"already belongs to Alpha"):
        catalogue.set_manufacturer_ouis(tenants["b"], ["00D09F"])


def test_oui_in_use_by_a_device_class_cannot_be_removed(tenants):
    with pytest.raises(ValidationError, match=r"device classes of Alpha use it"):
        catalogue.set_manufacturer_ouis(tenants["a"], ["001122"])
    assert tenants["a"].ouis.get().oui == "00D09E"


def test_device_class_oui_must_belong_to_its_manufacturer(tenants):
    with pytest.raises(ValidationError, match=r"3C62F0 is not one of Alpha's OUIs"):
        catalogue.check_device_class(tenants["a"], "3C62F0")


# --- uploads ----------------------------------------------------------------------------------


def test_upload_stores_files_hashed_and_validated(tenants, _media_root):
    data = b"\x00firmware" * 12345
    package = catalogue.upload_firmware(
        tenants["a"],
        draft([tenants["dc_a"]], "4.2.1"),
        [upload("fw.img", data)],
        actor=tenants["supplier_a"],
    )
    assert package.status == FirmwareStatus.VALIDATED
    f = package.files.get()
    assert (f.file_name, f.size, f.sha256) == (
        "fw.img",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    stored = Path(_media_root) / f.file.name
    assert stored.read_bytes() == data
    assert incoming_leftovers(_media_root) == []
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))
    assert {
        AuditKind.FIRMWARE_UPLOADED,
        AuditKind.FIRMWARE_VALIDATED,
        AuditKind.OBJECT_CREATED,
    } <= kinds
    assert package.validation_report["files"][0]["sha256"] == f.sha256


def test_file_names_are_sanitised(tenants):
    package = make_package(tenants["dc_a"], data=b"x" * 10)
    up = upload("../../etc/pass wd", b"y" * 10)
    pkg = catalogue.upload_firmware(tenants["a"], draft([tenants["dc_a"]], "2.0"), [up], actor=None)
    assert pkg.files.get().file_name == "pass_wd"
    assert package.files.get().file.name.startswith(f"firmware/{tenants['a'].pk}/{package.pk}/")


def test_duplicate_software_version_for_a_device_class_stores_nothing(tenants, _media_root):
    make_package(tenants["dc_a"], "4.2.1")
    files_before = sorted(p.name for p in Path(_media_root).rglob("*") if p.is_file())
    with pytest.raises(ValidationError) as exc:
        catalogue.upload_firmware(
            tenants["a"],
            draft([tenants["dc_a"]], "4.2.1", name="other"),
            [upload()],
            actor=tenants["supplier_a"],
        )
    assert "SoftwareVersion '4.2.1' already exists for device class 00D09E-A-STB" in messages(
        exc.value
    )
    assert FirmwarePackage.objects.count() == 1
    assert sorted(p.name for p in Path(_media_root).rglob("*") if p.is_file()) == files_before
    rejected = AuditEvent.objects.get(kind=AuditKind.FIRMWARE_UPLOAD_REJECTED)
    assert "4.2.1" in rejected.details["errors"][0] and rejected.actor == tenants["supplier_a"]


def test_same_version_for_another_device_class_is_fine(tenants):
    make_package(tenants["dc_a"], "1.0")
    make_package(tenants["dc_b"], "1.0")
    assert FirmwarePackage.objects.count() == 2


def test_database_refuses_duplicate_version_even_past_the_service(tenants):
    from django.db import IntegrityError, transaction

    from fus.models import FirmwareTarget

    package = make_package(tenants["dc_a"], "1.0")
    other = make_package(tenants["dc_a"], "1.1")
    with pytest.raises(IntegrityError), transaction.atomic():
        FirmwareTarget.objects.create(
            package=other, device_class=tenants["dc_a"], software_version="1.0"
        )
    assert package.targets.count() == 1


def test_empty_file_and_foreign_device_class_are_refused(tenants, _media_root):
    with pytest.raises(ValidationError) as exc:
        catalogue.upload_firmware(
            tenants["a"],
            draft([tenants["dc_a"], tenants["dc_b"]], "9"),
            [upload("e.bin", b"")],
            actor=None,
        )
    text = messages(exc.value)
    assert "Device class 3C62F0-B-STB does not belong to Alpha" in text
    assert FirmwarePackage.objects.count() == 0
    assert incoming_leftovers(_media_root) == []


def test_failed_upload_is_reported_by_file(tenants, _media_root):
    bad = upload("big.img")
    bad.image.discard()
    bad.image.error = "the file is larger than the limit"
    with pytest.raises(ValidationError, match=r"File 'big.img': the file is larger than the limit"):
        catalogue.upload_firmware(tenants["a"], draft([tenants["dc_a"]], "3"), [bad], actor=None)
    assert FirmwarePackage.objects.count() == 0


def test_file_too_large_is_refused_while_streaming(tenants, settings, _media_root):
    settings.FIRMWARE_MAX_FILE_SIZE = 1000
    from fus.uploads import incoming_from_bytes

    image = incoming_from_bytes("huge.img", [b"a" * 600, b"b" * 600])
    assert "larger than the limit of 1,000 bytes" in image.error
    assert image.path is None and incoming_leftovers(_media_root) == []


# --- signatures -------------------------------------------------------------------------------


@pytest.fixture
def signed_tenants(tenants):
    root_a = pki.make_root("Alpha Root CA")
    inter_a = pki.make_intermediate(root_a, "Alpha Firmware CA")
    leaf_a = pki.make_leaf(inter_a, "Alpha Firmware Signing")
    root_b = pki.make_root("Beta Root CA")
    leaf_b = pki.make_leaf(root_b, "Beta Firmware Signing")
    catalogue.add_signing_certificate(tenants["a"], name="Alpha root", pem=root_a.cert_pem())
    catalogue.add_signing_certificate(tenants["b"], name="Beta root", pem=root_b.cert_pem())
    return {**tenants, "root_a": root_a, "inter_a": inter_a, "leaf_a": leaf_a, "leaf_b": leaf_b}


def _signed_upload(data, leaf, extra=(), image_data=None):
    sig = pki.sign_detached(data, leaf.key, leaf.cert, list(extra))
    return upload("fw.img", image_data if image_data is not None else data, signature=sig)


def test_good_signature_is_verified_and_recorded(signed_tenants):
    t = signed_tenants
    data = b"signed image" * 4000
    package = catalogue.upload_firmware(
        t["a"],
        draft([t["dc_a"]], "5.0", signed_packaging=True),
        [_signed_upload(data, t["leaf_a"], [t["inter_a"].cert])],
        actor=t["supplier_a"],
    )
    f = package.files.get()
    assert package.status == FirmwareStatus.VALIDATED
    assert "Alpha Firmware Signing" in f.signer
    assert bytes(f.signature).startswith(b"0")  # DER SEQUENCE


def test_tampered_image_is_refused(signed_tenants, _media_root):
    t = signed_tenants
    data = b"signed image" * 4000
    tampered = bytearray(data)
    tampered[100] ^= 0x01
    with pytest.raises(ValidationError) as exc:
        catalogue.upload_firmware(
            t["a"],
            draft([t["dc_a"]], "5.0", signed_packaging=True),
            [_signed_upload(data, t["leaf_a"], [t["inter_a"].cert], image_data=bytes(tampered))],
            actor=None,
        )
    assert "File 'fw.img': signature refused" in messages(exc.value)
    assert "does not match" in messages(exc.value)
    assert FirmwarePackage.objects.count() == 0 and FirmwareFile.objects.count() == 0
    assert incoming_leftovers(_media_root) == []


def test_signature_by_another_manufacturers_key_is_refused(signed_tenants):
    t = signed_tenants
    with pytest.raises(ValidationError) as exc:
        catalogue.upload_firmware(
            t["a"],
            draft([t["dc_a"]], "5.0"),
            [_signed_upload(b"img" * 100, t["leaf_b"])],
            actor=None,
        )
    assert "Beta Firmware Signing" in messages(exc.value)
    assert FirmwarePackage.objects.count() == 0


def test_expired_signing_certificate_is_refused(signed_tenants):
    t = signed_tenants
    past = datetime.now(UTC) - timedelta(days=400)
    old_leaf = pki.make_leaf(
        t["inter_a"], "Old Signing", not_before=past, not_after=past + timedelta(days=30)
    )
    with pytest.raises(ValidationError, match=r"expired"):
        catalogue.upload_firmware(
            t["a"],
            draft([t["dc_a"]], "5.0"),
            [_signed_upload(b"img" * 100, old_leaf, [t["inter_a"].cert])],
            actor=None,
        )


def test_signed_packaging_without_signature_is_refused(signed_tenants):
    t = signed_tenants
    with pytest.raises(ValidationError, match=r"declares SignedPackaging but no signature"):
        catalogue.upload_firmware(
            t["a"], draft([t["dc_a"]], "5.0", signed_packaging=True), [upload()], actor=None
        )


def test_signature_without_registered_certificates_is_refused(tenants):
    leaf = pki.make_leaf(pki.make_root("X"), "X signing")
    with pytest.raises(ValidationError, match=r"no registered signing certificate"):
        catalogue.upload_firmware(
            tenants["a"],
            draft([tenants["dc_a"]], "1"),
            [_signed_upload(b"i" * 50, leaf)],
            actor=None,
        )


def test_signatures_pair_with_images_by_name(tenants):
    from django.core.files.uploadedfile import SimpleUploadedFile

    images = [upload("a.bin").image, upload("b.bin").image]
    sig = SimpleUploadedFile("b.bin.p7s", b"0\x80")
    pairs = catalogue.pair_signatures(images, [sig])
    assert [p.signature for p in pairs] == [None, b"0\x80"]
    with pytest.raises(ValidationError, match=r"no image named 'c.bin'"):
        catalogue.pair_signatures(images, [SimpleUploadedFile("c.bin.p7s", b"0")])
    for img in images:
        img.discard()


def test_certificate_registration_rejects_garbage_and_duplicates(tenants):
    with pytest.raises(ValidationError, match=r"Not a certificate"):
        catalogue.add_signing_certificate(tenants["a"], name="junk", pem="hello")
    root = pki.make_root("R")
    catalogue.add_signing_certificate(tenants["a"], name="r", pem=root.cert_pem())
    with pytest.raises(ValidationError, match=r"already registered"):
        catalogue.add_signing_certificate(tenants["a"], name="r2", pem=root.cert_pem())


# --- lifecycle --------------------------------------------------------------------------------


def test_lifecycle_transitions_and_their_refusals(tenants):
    package = make_package(tenants["dc_a"], "1.0")
    noc = tenants["noc"]
    package = catalogue.approve_firmware(package, actor=noc)
    assert (package.status, package.approved_by) == (FirmwareStatus.APPROVED, noc)
    with pytest.raises(ValidationError, match=r"can no longer be edited"):
        catalogue.update_firmware(package, {"description": "x"}, actor=noc)
    with pytest.raises(ValidationError, match=r"retire it instead"):
        catalogue.delete_firmware(package, actor=noc)
    with pytest.raises(ValidationError, match=r"Only validated packages can be approved"):
        catalogue.approve_firmware(package, actor=noc)
    package = catalogue.retire_firmware(package, actor=noc, reason="superseded")
    assert package.status == FirmwareStatus.RETIRED
    assert AuditEvent.objects.filter(kind=AuditKind.FIRMWARE_RETIRED, message="superseded").exists()


def test_draft_package_gets_files_then_validates(tenants, _media_root):
    package = catalogue.create_firmware(tenants["a"], draft([tenants["dc_a"]], "2.0"), actor=None)
    assert package.status == FirmwareStatus.DRAFT
    with pytest.raises(ValidationError, match=r"has no files"):
        catalogue.validate_firmware(package, actor=None)
    catalogue.add_firmware_file(package, upload("x.bin", b"x" * 100), actor=None)
    with pytest.raises(ValidationError, match=r"already part of this package"):
        catalogue.add_firmware_file(package, upload("x.bin", b"y" * 100), actor=None)
    assert catalogue.validate_firmware(package, actor=None).status == FirmwareStatus.VALIDATED
    assert incoming_leftovers(_media_root) == []


def test_validation_notices_a_file_missing_from_storage(tenants, _media_root):
    package = catalogue.create_firmware(tenants["a"], draft([tenants["dc_a"]], "2.0"), actor=None)
    f = catalogue.add_firmware_file(package, upload("x.bin", b"x" * 100), actor=None)
    (Path(_media_root) / f.file.name).unlink()
    with pytest.raises(ValidationError, match=r"'x.bin' is missing from storage"):
        catalogue.validate_firmware(package, actor=None)


def test_edit_rechecks_version_uniqueness(tenants):
    make_package(tenants["dc_a"], "1.0")
    second = make_package(tenants["dc_a"], "1.1")
    with pytest.raises(ValidationError, match=r"'1.0' already exists"):
        catalogue.update_firmware(second, {"software_version": "1.0"}, actor=None)
    second.refresh_from_db()
    assert second.software_version == "1.1" and second.targets.get().software_version == "1.1"
    catalogue.update_firmware(second, {"software_version": "1.2"}, actor=None)
    assert second.targets.get().software_version == "1.2"


def test_delete_removes_files_after_commit(
    tenants, _media_root, django_capture_on_commit_callbacks
):
    package = make_package(tenants["dc_a"], "1.0")
    path = Path(_media_root) / package.files.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        catalogue.delete_firmware(package, actor=tenants["noc"])
    assert not path.exists()
    assert AuditEvent.objects.filter(
        kind=AuditKind.OBJECT_DELETED, object_repr__contains="1.0"
    ).exists()


def test_device_class_in_use_cannot_be_deleted(tenants):
    from django.db.models import ProtectedError

    make_package(tenants["dc_a"], "1.0")
    with pytest.raises(ProtectedError):
        DeviceClass.objects.get(pk=tenants["dc_a"].pk).delete()


def test_draft_declares_exactly_the_package_metadata_fields():
    from dataclasses import fields

    declared = {f.name for f in fields(catalogue.FirmwareDraft)} - {"device_classes"}
    assert declared == set(FirmwarePackage.METADATA_FIELDS)
