"""Firmware catalogue services: every state change of manufacturers, device classes and firmware.

Each function runs in one transaction, checks the rules that a form or serializer cannot see (tenancy,
uniqueness across packages, lifecycle, signatures), writes its audit event, and leaves nothing
half-stored: a refused upload deletes its incoming files and stores no row.

Lifecycle of a package: draft -> validated -> approved -> retired.
- draft: created (REST) or edited; files may be added.
- validated: every check passed (files present, signatures verified, versions unique).
- approved: a NOC operator released it for delivery; from now on it is immutable.
- retired: withdrawn; kept for history and reports.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from fus import signing
from fus.choices import FirmwareStatus, UpdateFlag, UpdateMethod, UpdatePriority
from fus.models import (
    DeviceClass,
    FirmwareFile,
    FirmwarePackage,
    FirmwareTarget,
    Manufacturer,
    ManufacturerOUI,
    SigningCertificate,
)
from fus.models.catalogue import firmware_upload_to
from fus.services.targeting import sync_device_class_targets
from fus.uploads import IncomingFile
from fus.validators import normalize_oui, validate_oui
from portal.audit import attributed, record_event
from portal.choices import AuditKind

log = logging.getLogger(__name__)

SIGNATURE_SUFFIXES = (".p7s", ".p7", ".p7b", ".cms", ".sig")
MAX_SIGNATURE_SIZE = 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]")


class CatalogueError(ValidationError):
    """A refused catalogue operation; `messages` name each problem (field, file, value)."""


class LifecycleError(CatalogueError):
    pass


# --- manufacturers ---------------------------------------------------------------------------


@transaction.atomic
def set_manufacturer_ouis(manufacturer: Manufacturer, ouis: Iterable[str]) -> list[str]:
    """Make `ouis` the manufacturer's OUIs (normalised, validated, unique across manufacturers)."""
    wanted: list[str] = []
    errors: list[str] = []
    for raw in ouis:
        oui = normalize_oui(raw)
        if not oui:
            continue
        try:
            validate_oui(oui)
        except ValidationError:
            errors.append(f"OUI {raw!r}: must be exactly six hexadecimal digits (e.g. 00D09E).")
            continue
        owner = ManufacturerOUI.objects.filter(oui=oui).exclude(manufacturer=manufacturer).first()
        if owner is not None:
            errors.append(f"OUI {oui} already belongs to {owner.manufacturer}.")
        if oui not in wanted:
            wanted.append(oui)
    if not wanted and not errors:
        errors.append("A manufacturer needs at least one OUI.")
    in_use = set(manufacturer.device_classes.exclude(oui__in=wanted).values_list("oui", flat=True))
    for oui in sorted(in_use):
        errors.append(f"OUI {oui} cannot be removed: device classes of {manufacturer} use it.")
    if errors:
        raise CatalogueError({"ouis": errors})
    for row in manufacturer.ouis.exclude(oui__in=wanted):
        row.delete()
    existing = set(manufacturer.ouis.values_list("oui", flat=True))
    for oui in wanted:
        if oui not in existing:
            ManufacturerOUI.objects.create(manufacturer=manufacturer, oui=oui)
    return wanted


@transaction.atomic
def add_signing_certificate(
    manufacturer: Manufacturer, *, name: str, pem: str | bytes
) -> list[SigningCertificate]:
    """Register one or more trust anchors (PEM) for the manufacturer's firmware signatures."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        certs = signing.load_certificates(data)
    except signing.SignatureError as exc:
        raise CatalogueError({"pem": [f"Not a certificate: {exc}"]}) from exc
    created = []
    for index, cert in enumerate(certs):
        fingerprint = cert.fingerprint(hashes.SHA256()).hex()
        if manufacturer.certificates.filter(fingerprint_sha256=fingerprint).exists():
            raise CatalogueError(
                {"pem": [f"Certificate {cert.subject.rfc4514_string()} is already registered."]}
            )
        created.append(
            SigningCertificate.objects.create(
                manufacturer=manufacturer,
                name=name if len(certs) == 1 else f"{name} #{index + 1}",
                pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                subject=cert.subject.rfc4514_string()[:500],
                issuer=cert.issuer.rfc4514_string()[:500],
                serial_number=format(cert.serial_number, "x"),
                fingerprint_sha256=fingerprint,
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
            )
        )
    return created


def trust_anchors(manufacturer: Manufacturer) -> list[x509.Certificate]:
    return [
        cert
        for row in manufacturer.certificates.all()
        for cert in signing.load_certificates(row.pem.encode())
    ]


# --- device classes --------------------------------------------------------------------------


def check_device_class(manufacturer: Manufacturer, oui: str) -> str:
    """The normalised OUI, if it is one of the manufacturer's; else a CatalogueError on `oui`."""
    oui = normalize_oui(oui)
    try:
        validate_oui(oui)
    except ValidationError as exc:
        raise CatalogueError({"oui": exc.messages}) from exc
    if not manufacturer.ouis.filter(oui=oui).exists():
        owned = ", ".join(manufacturer.ouis.values_list("oui", flat=True)) or "none"
        raise CatalogueError({"oui": [f"OUI {oui} is not one of {manufacturer}'s OUIs ({owned})."]})
    return oui


# --- firmware packages -----------------------------------------------------------------------


@dataclass
class FirmwareDraft:
    """What a manufacturer declares about a package (the clause 7 SoftwarePackageInfo etc.)."""

    software_version: str
    package_name: str
    device_classes: Sequence[DeviceClass]
    description: str = ""
    footprint_volatile: int | None = None
    footprint_non_volatile: int | None = None
    signed_packaging: bool = False
    manifest: bool = False
    update_flag: str = UpdateFlag.AUTOMATIC
    update_method: str = UpdateMethod.NEXT_RESTART
    update_priority: int = UpdatePriority.NORMAL
    message_descriptor: str = ""

    def fields(self) -> dict:
        """The package's column values (FirmwarePackage.METADATA_FIELDS)."""
        return {name: getattr(self, name) for name in FirmwarePackage.METADATA_FIELDS}


@dataclass
class FirmwareUpload:
    """An image file and, optionally, its detached CMS signature."""

    image: IncomingFile
    signature: bytes | None = None
    signature_name: str = ""
    module_type: str = ""
    vendor_specific_info: str = ""
    verified: signing.VerifiedSignature | None = field(default=None, init=False)


def safe_file_name(name: str) -> str:
    """The base name of an uploaded file with anything but [A-Za-z0-9._+-] replaced by '_'."""
    base = Path(name.replace("\\", "/")).name
    base = _SAFE_NAME.sub("_", base).lstrip(".")
    return base[:255] or "image.bin"


def pair_signatures(
    images: Sequence[IncomingFile], signatures: Sequence[UploadedFile]
) -> list[FirmwareUpload]:
    """Pair each signature with its image: `image.bin.p7s` signs `image.bin`; a single signature
    beside a single image signs that image. Unpaired signatures are an error."""
    uploads = [FirmwareUpload(image=img) for img in images]
    by_name = {safe_file_name(u.image.name): u for u in uploads}
    errors = []
    for sig in signatures:
        data = _read_small(sig, MAX_SIGNATURE_SIZE)
        if data is None:
            errors.append(
                f"Signature {sig.name!r}: larger than {MAX_SIGNATURE_SIZE:,} bytes; not a CMS signature."
            )
            continue
        name = safe_file_name(sig.name)
        stem = next((name[: -len(s)] for s in SIGNATURE_SUFFIXES if name.lower().endswith(s)), None)
        target = by_name.get(stem) if stem else None
        if target is None and len(uploads) == 1 and len(signatures) == 1:
            target = uploads[0]
        if target is None:
            errors.append(
                f"Signature {sig.name!r}: no image named {stem or name!r}; name it after its image, "
                f"e.g. {next(iter(by_name), 'image.bin')}.p7s."
            )
            continue
        if target.signature is not None:
            errors.append(f"Image {target.image.name!r} has two signatures.")
            continue
        target.signature = data
        target.signature_name = sig.name
    if errors:
        raise CatalogueError({"signatures": errors})
    return uploads


def _read_small(upload, limit: int) -> bytes | None:
    chunks, total = [], 0
    for chunk in upload.chunks():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _check_targets(
    manufacturer: Manufacturer,
    software_version: str,
    device_classes: Sequence[DeviceClass],
    exclude_package: FirmwarePackage | None,
) -> list[str]:
    errors = []
    if not device_classes:
        errors.append("Choose at least one device class this firmware is for.")
    for dc in device_classes:
        if dc.manufacturer_id != manufacturer.pk:
            errors.append(f"Device class {dc} does not belong to {manufacturer}.")
            continue
        clash = FirmwareTarget.objects.filter(device_class=dc, software_version=software_version)
        if exclude_package is not None:
            clash = clash.exclude(package=exclude_package)
        other = clash.select_related("package").first()
        if other is not None:
            errors.append(
                f"SoftwareVersion {software_version!r} already exists for device class {dc} "
                f"(package {other.package.package_name!r})."
            )
    return errors


def _verify_uploads(
    manufacturer: Manufacturer, signed_packaging: bool, uploads: Sequence[FirmwareUpload]
) -> list[str]:
    errors: list[str] = []
    names = [safe_file_name(u.image.name) for u in uploads]
    for name in {n for n in names if names.count(n) > 1}:
        errors.append(f"File {name!r} is uploaded twice.")
    for u in uploads:
        if u.image.error:
            errors.append(f"File {u.image.name!r}: {u.image.error}.")
        elif u.image.size == 0:
            errors.append(f"File {u.image.name!r} is empty.")
    if errors:
        return errors
    anchors = trust_anchors(manufacturer)
    for u in uploads:
        if u.signature is None:
            if signed_packaging:
                errors.append(
                    f"File {u.image.name!r}: the package declares SignedPackaging but no signature "
                    f"was uploaded for it (upload {safe_file_name(u.image.name)}.p7s)."
                )
            continue
        if not anchors:
            errors.append(
                f"File {u.image.name!r}: a signature was uploaded but {manufacturer} has no "
                "registered signing certificate to verify it against."
            )
            continue
        try:
            u.verified = signing.verify_detached_signature(
                u.signature,
                u.image.temporary_file_path(),
                anchors,
                known_digests={"sha256": bytes.fromhex(u.image.sha256)},
            )
        except signing.SignatureError as exc:
            errors.append(f"File {u.image.name!r}: signature refused: {exc}")
    return errors


@attributed
def upload_firmware(
    manufacturer: Manufacturer, draft: FirmwareDraft, uploads: Sequence[FirmwareUpload], *, actor
) -> FirmwarePackage:
    """Create a package from a manufacturer's upload; it ends `validated` when every check passes.

    On any problem: CatalogueError naming each one, every incoming file deleted, no row stored, and
    a `firmware_upload_rejected` audit event kept.
    """
    try:
        errors = _check_new_package(manufacturer, draft)
        if not uploads:
            errors.append("Upload at least one image file.")
        errors += _verify_uploads(manufacturer, draft.signed_packaging, uploads)
        if errors:
            raise CatalogueError({"__all__": errors})
        package = _store_package(manufacturer, draft, uploads, actor=actor)
    except CatalogueError as exc:
        record_event(
            AuditKind.FIRMWARE_UPLOAD_REJECTED,
            obj=manufacturer,
            actor=actor,
            message=f"Upload of {draft.package_name} {draft.software_version} refused",
            details={"errors": exc.messages, "files": [u.image.name for u in uploads]},
        )
        raise
    finally:
        for u in uploads:
            u.image.discard()  # no-op for accepted files (already moved)
    return package


def _check_new_package(manufacturer: Manufacturer, draft: FirmwareDraft) -> list[str]:
    errors = _check_targets(manufacturer, draft.software_version, draft.device_classes, None)
    if FirmwarePackage.objects.filter(
        manufacturer=manufacturer, package_name=draft.package_name
    ).exists():
        errors.append(f"PackageName {draft.package_name!r} is already used by {manufacturer}.")
    return errors


def _create_package(manufacturer: Manufacturer, draft: FirmwareDraft, *, actor) -> FirmwarePackage:
    package = FirmwarePackage.objects.create(
        manufacturer=manufacturer, uploaded_by=actor, status=FirmwareStatus.DRAFT, **draft.fields()
    )
    for dc in draft.device_classes:
        FirmwareTarget.objects.create(
            package=package, device_class=dc, software_version=draft.software_version
        )
    sync_device_class_targets(package, draft.device_classes)
    return package


@contextlib.contextmanager
def _storing_files() -> Iterator[list[Path]]:
    """A transaction in which incoming files are moved into the firmware folder: the caller appends
    each destination to the yielded list, and if the transaction fails they are unlinked again, so
    storage and database never disagree. Constraint violations become a CatalogueError."""
    moved: list[Path] = []
    try:
        with transaction.atomic():
            yield moved
    except IntegrityError as exc:
        _unlink_all(moved)
        raise CatalogueError(
            {"__all__": [f"Refused by the catalogue's constraints: {exc}"]}
        ) from exc
    except BaseException:
        _unlink_all(moved)
        raise


def _store_file(
    package: FirmwarePackage, upload: FirmwareUpload, moved: list[Path]
) -> FirmwareFile:
    """Move one verified upload into the package's folder and record it (inside `_storing_files`)."""
    name = safe_file_name(upload.image.name)
    relative = firmware_upload_to(FirmwareFile(package=package), name)
    destination = Path(settings.MEDIA_ROOT) / relative
    if destination.exists():
        raise CatalogueError(
            {"__all__": [f"Storage already holds {relative}; refusing to overwrite."]}
        )
    upload.image.move_to(destination)
    moved.append(destination)
    return FirmwareFile.objects.create(
        package=package,
        file_name=name,
        file=relative,
        size=upload.image.size,
        sha256=upload.image.sha256,
        module_type=upload.module_type,
        vendor_specific_info=upload.vendor_specific_info,
        signature=upload.signature,
        signer=upload.verified.signer_subject[:500] if upload.verified else "",
        signed_at=upload.verified.signing_time if upload.verified else None,
    )


def _store_package(
    manufacturer: Manufacturer, draft: FirmwareDraft, uploads: Sequence[FirmwareUpload], *, actor
) -> FirmwarePackage:
    with _storing_files() as moved:
        package = _create_package(manufacturer, draft, actor=actor)
        for u in uploads:
            _store_file(package, u, moved)
        _mark_validated(package, actor=actor)
        record_event(
            AuditKind.FIRMWARE_UPLOADED,
            obj=package,
            actor=actor,
            message=f"{len(uploads)} file(s), {sum(u.image.size for u in uploads):,} bytes",
            details={
                "files": {safe_file_name(u.image.name): u.image.sha256 for u in uploads},
                "signed": [safe_file_name(u.image.name) for u in uploads if u.verified],
            },
        )
    return package


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _mark_validated(package: FirmwarePackage, *, actor) -> None:
    report = {
        "checked_at": timezone.now().isoformat(),
        "files": [
            {"name": f.file_name, "size": f.size, "sha256": f.sha256, "signed_by": f.signer}
            for f in package.files.all()
        ],
    }
    package.status = FirmwareStatus.VALIDATED
    package.validation_report = report
    package.save(update_fields=["status", "validation_report", "updated"])
    record_event(AuditKind.FIRMWARE_VALIDATED, obj=package, actor=actor)


@attributed
@transaction.atomic
def create_firmware(manufacturer: Manufacturer, draft: FirmwareDraft, *, actor) -> FirmwarePackage:
    """A draft package with no files yet (REST): files follow with `add_firmware_file`."""
    errors = _check_new_package(manufacturer, draft)
    if errors:
        raise CatalogueError({"__all__": errors})
    return _create_package(manufacturer, draft, actor=actor)


@attributed
def add_firmware_file(package: FirmwarePackage, upload: FirmwareUpload, *, actor) -> FirmwareFile:
    """Add one image (and its signature) to a draft package."""
    try:
        if package.status != FirmwareStatus.DRAFT:
            raise LifecycleError(
                {
                    "__all__": [
                        f"Files can be added to draft packages only; this one is {package.get_status_display().lower()}."
                    ]
                }
            )
        errors = _verify_uploads(package.manufacturer, package.signed_packaging, [upload])
        name = safe_file_name(upload.image.name)
        if package.files.filter(file_name=name).exists():
            errors.append(f"File {name!r} is already part of this package.")
        if errors:
            raise CatalogueError({"file": errors})
        with _storing_files() as moved:
            return _store_file(package, upload, moved)
    finally:
        upload.image.discard()


def _locked_in(package: FirmwarePackage, states: tuple[str, ...], refusal) -> FirmwarePackage:
    """The package re-read under a row lock, if its status is one of `states`; else a
    LifecycleError with `refusal(package)` (so two operators cannot both approve it)."""
    package = FirmwarePackage.objects.select_for_update().get(pk=package.pk)
    if package.status not in states:
        raise LifecycleError({"__all__": [refusal(package)]})
    return package


@attributed
@transaction.atomic
def update_firmware(
    package: FirmwarePackage, changes: dict, *, actor, device_classes=None
) -> FirmwarePackage:
    """Edit a draft or validated package. Approved and retired packages are immutable."""
    package = _locked_in(
        package,
        (
            FirmwareStatus.DRAFT,
            FirmwareStatus.VALIDATED,
        ),
        lambda p: (
            f"{p} is {p.get_status_display().lower()} and can no longer be edited; "
            "upload a new version instead."
        ),
    )
    version = changes.get("software_version", package.software_version)
    targets = (
        list(device_classes) if device_classes is not None else list(package.device_classes.all())
    )
    errors = _check_targets(package.manufacturer, version, targets, package)
    if (
        "signed_packaging" in changes
        and changes["signed_packaging"]
        and package.files.filter(signature__isnull=True).exists()
    ):
        errors.append(
            "SignedPackaging cannot be set: some files of this package carry no verified signature."
        )
    if errors:
        raise CatalogueError({"__all__": errors})
    for name, value in changes.items():
        setattr(package, name, value)
    package.full_clean(exclude=["manufacturer"])
    package.save()
    package.targets.all().delete()
    for dc in targets:
        FirmwareTarget.objects.create(package=package, device_class=dc, software_version=version)
    sync_device_class_targets(package, targets)
    return package


@attributed
@transaction.atomic
def validate_firmware(package: FirmwarePackage, *, actor) -> FirmwarePackage:
    """draft -> validated: every file is on disk at its recorded size, signatures as declared."""
    package = _locked_in(
        package,
        (FirmwareStatus.DRAFT,),
        lambda p: (
            f"Only draft packages can be validated; this one is {p.get_status_display().lower()}."
        ),
    )
    errors = []
    files = list(package.files.all())
    if not files:
        errors.append("The package has no files.")
    for f in files:
        path = Path(settings.MEDIA_ROOT) / f.file.name
        if not path.is_file():
            errors.append(f"File {f.file_name!r} is missing from storage.")
        elif path.stat().st_size != f.size:
            errors.append(
                f"File {f.file_name!r} is {path.stat().st_size:,} bytes on disk, {f.size:,} recorded."
            )
        if package.signed_packaging and not f.signature:
            errors.append(
                f"File {f.file_name!r} has no signature but the package declares SignedPackaging."
            )
    errors += _check_declared_files(package, files)
    errors += _check_targets(
        package.manufacturer, package.software_version, list(package.device_classes.all()), package
    )
    if errors:
        raise CatalogueError({"__all__": errors})
    _mark_validated(package, actor=actor)
    return package


def _check_declared_files(package: FirmwarePackage, files: Sequence[FirmwareFile]) -> list[str]:
    """Imported metadata declared PackageFiles and a PackageSize: the uploads must be exactly those."""
    if not package.declared_files:
        return []
    errors = []
    uploaded = {f.file_name: f for f in files}
    declared = {d["file_name"]: d for d in package.declared_files}
    for name, entry in declared.items():
        f = uploaded.get(name)
        if f is None:
            errors.append(
                f"File {name!r} is declared in the metadata (PackageFile) but not uploaded."
            )
        elif entry.get("file_size") is not None and entry["file_size"] != f.size:
            errors.append(
                f"File {name!r} is {f.size:,} bytes; the metadata declares {entry['file_size']:,} "
                "(FileSize)."
            )
    for name in uploaded.keys() - declared.keys():
        errors.append(f"File {name!r} is not one of the metadata's PackageFiles.")
    total = sum(f.size for f in files)
    if not errors and package.declared_package_size not in (None, total):
        errors.append(
            f"The files total {total:,} bytes; the metadata declares PackageSize "
            f"{package.declared_package_size:,}."
        )
    return errors


@attributed
@transaction.atomic
def approve_firmware(package: FirmwarePackage, *, actor) -> FirmwarePackage:
    """validated -> approved (NOC): released for delivery."""
    package = _locked_in(
        package,
        (FirmwareStatus.VALIDATED,),
        lambda p: (
            f"Only validated packages can be approved; {p} is {p.get_status_display().lower()}."
        ),
    )
    package.status = FirmwareStatus.APPROVED
    package.approved_by = actor
    package.approved_at = timezone.now()
    package.save(update_fields=["status", "approved_by", "approved_at", "updated"])
    record_event(AuditKind.FIRMWARE_APPROVED, obj=package, actor=actor)
    return package


@attributed
@transaction.atomic
def retire_firmware(package: FirmwarePackage, *, actor, reason: str = "") -> FirmwarePackage:
    """validated/approved -> retired: withdrawn from delivery, kept for history."""
    package = _locked_in(
        package,
        (
            FirmwareStatus.VALIDATED,
            FirmwareStatus.APPROVED,
        ),
        lambda p: (
            f"Only validated or approved packages can be retired; {p} is {p.get_status_display().lower()}."
        ),
    )
    package.status = FirmwareStatus.RETIRED
    package.save(update_fields=["status", "updated"])
    record_event(AuditKind.FIRMWARE_RETIRED, obj=package, actor=actor, message=reason[:500])
    return package


@attributed
def delete_firmware(package: FirmwarePackage, *, actor) -> None:
    """Delete a package that was never approved, with its files on disk (after the commit)."""
    if package.status == FirmwareStatus.APPROVED:
        raise LifecycleError(
            {"__all__": [f"{package} is approved: retire it instead of deleting it."]}
        )
    paths = [Path(settings.MEDIA_ROOT) / f.file.name for f in package.files.all()]
    with transaction.atomic():
        package.delete()
        transaction.on_commit(lambda: _unlink_all(paths))
