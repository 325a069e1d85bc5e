"""Import and export of RMS-FUS metadata documents (TS 102 542-4 clause 7) into the catalogue.

`import_metadata(data, actor=...)` parses a document (`fus.metadata.codec`: hardened, schema-checked,
every issue with line, element path and value), checks it against the catalogue (the OUIs belong
to the manufacturer, SoftwareVersion is unique per device class, an approved package is not
changed) and then, in one transaction, creates or updates

* the manufacturer (command-line and operator imports only; a supplier imports for its own),
  its ReportingOrders and download location;
* the device classes of every target entry (hardware versions added to the class);
* the package (matched by manufacturer and PackageName): SoftwareVersion, SoftwarePackageInfo,
  UpdateDescriptor, MessageDescriptors, Mode, ValidityTimeRange, TargetDevicesInfo, the declared
  PackageSize and PackageFile list (checked against the uploaded files when the package is
  validated);
* its target rows (`fus.services.targeting.write_target_devices`), from which both targeting
  directions are answered;
* the FUS and RMS entities it names, linked by FUSID/RMSID (created only by users who may add them).

Any error refuses the whole document: nothing is stored and a `metadata_import_rejected` audit event
says why. A re-import of a validated package returns it to draft (its declaration changed).

`export_metadata(package)` writes the document back from the catalogue (the portal's default FUS and
RMS entities stand in when the package names none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from fus.choices import FirmwareStatus, MetadataMode
from fus.metadata import codec
from fus.metadata import model as m
from fus.models import (
    DeviceClass,
    FirmwarePackage,
    FirmwareTarget,
    FusEntity,
    Manufacturer,
    ManufacturerOUI,
    RmsEntity,
    ServiceLocation,
)
from fus.models.entities import LocationKind, validate_decimal_id
from fus.services.catalogue import CatalogueError, _check_targets
from fus.services.targeting import target_devices_of, write_target_devices
from portal.audit import attributed, record_event
from portal.choices import AuditKind
from portal.roles import is_supplier

__all__ = ["ImportSummary", "MetadataImportError", "export_metadata", "import_metadata"]

_FUS_LOCATIONS = {
    LocationKind.FUS_QUERY: "fus_query_interface_locations",
    LocationKind.MULTICAST_ANNOUNCEMENT: "multicast_announcement_interface_locations",
    LocationKind.UNICAST: "unicast_interface_locations",
    LocationKind.MULTICAST: "multicast_interface_locations",
}


class MetadataImportError(CatalogueError):
    """The document is refused; `messages` lists every problem (line, element path, value)."""


@dataclass
class ImportSummary:
    package: FirmwarePackage
    created: bool
    namespace: m.Namespace
    manufacturer_created: bool = False
    device_classes_created: list[str] = field(default_factory=list)
    fus_entity: FusEntity | None = None
    rms_entity: RmsEntity | None = None
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        p = self.package
        entries = list(p.target_entries.all())
        ranges = sum(e.ranges.count() for e in entries)
        out = [
            f"{'Created' if self.created else 'Updated'} package {p.package_name!r} "
            f"(SoftwareVersion {p.software_version}, id {p.pk}, {p.get_status_display().lower()}) "
            f"for {p.manufacturer}",
            f"Namespace: {self.namespace.prefix}; Mode: {p.mode}",
            f"Target entries: {len(entries)} ({ranges} RangeList bounds/items)",
            "Validity: "
            + (
                f"{p.valid_from.isoformat()} .. {p.valid_until.isoformat()}"
                if p.valid_from
                else "always"
            ),
        ]
        if self.manufacturer_created:
            out.append(f"Created manufacturer {p.manufacturer}")
        if self.device_classes_created:
            out.append("Created device classes: " + ", ".join(self.device_classes_created))
        if self.fus_entity:
            out.append(f"FUS: {self.fus_entity}")
        if self.rms_entity:
            out.append(f"RMS: {self.rms_entity}")
        out += [f"warning: {w}" for w in self.warnings]
        return out


class _Refused(Exception):
    def __init__(self, errors: list[str]):
        self.errors = errors


# --- import --------------------------------------------------------------------------------------


@attributed
def import_metadata(
    data: bytes,
    *,
    actor,
    manufacturer: Manufacturer | None = None,
    source: str = "",
) -> ImportSummary:
    """Create or update a package (and what it names) from a metadata document; see the module.

    `manufacturer`: the supplier-portal tenant the document must belong to (None: any the actor may
    act for). `source` names the file or channel for the audit trail."""
    try:
        try:
            result = codec.read(data)
        except codec.MetadataError as exc:
            raise _Refused([str(i) for i in exc.issues]) from None
        with transaction.atomic():
            summary = _import(result, actor=actor, tenant=manufacturer)
    except _Refused as refused:
        record_event(
            AuditKind.METADATA_IMPORT_REJECTED,
            obj=manufacturer,
            actor=actor,
            message=f"Metadata {source or 'document'} refused",
            details={"errors": refused.errors[:50], "source": source},
        )
        raise MetadataImportError({"metadata": refused.errors}) from None
    record_event(
        AuditKind.METADATA_IMPORTED,
        obj=summary.package,
        actor=actor,
        message=f"Metadata {source or 'document'} imported",
        details={"summary": summary.lines(), "source": source},
    )
    return summary


def _may(actor, perm: str) -> bool:
    return actor is None or actor.has_perm(perm)


def _import(result: codec.ParseResult, *, actor, tenant: Manufacturer | None) -> ImportSummary:
    doc = result.document
    upgrade = doc.firmware_upgrade
    info = upgrade.software_package_info
    warnings = [str(w) for w in result.warnings]
    errors: list[str] = []
    ce = doc.ce_manufacturer

    manufacturer, manufacturer_created = _manufacturer(ce, actor=actor, tenant=tenant)
    _manufacturer_locations(manufacturer, ce, warnings)

    classes: dict[tuple[str, str], DeviceClass] = {}
    created_classes: list[str] = []
    owned = set(manufacturer.ouis.values_list("oui", flat=True))
    for index, target in enumerate(upgrade.target_devices.entries()):
        dc_info = target.device_class_info if isinstance(target, m.DeviceGroup) else target
        oui, pc = dc_info.manufacturer_oui.upper(), dc_info.product_class
        path = f"/RMSFUSMetadata/FirmwareUpgrade/TargetDevices/{type(target).__name__}[{index + 1}]"
        if oui not in owned:
            errors.append(
                f"error: {path}/ManufacturerOUI: {oui} is not an OUI of {manufacturer} "
                f"({', '.join(sorted(owned))}); a package may target its own manufacturer's boxes only"
            )
            continue
        if (oui, pc) not in classes:
            dc, made = DeviceClass.objects.get_or_create(
                oui=oui, product_class=pc, defaults={"manufacturer": manufacturer}
            )
            if made:
                created_classes.append(str(dc))
            classes[(oui, pc)] = dc
        hardware = _hardware_of(target)
        dc = classes[(oui, pc)]
        new_hw = [h for h in hardware if h not in dc.hardware_versions]
        if new_hw:
            dc.hardware_versions = [*dc.hardware_versions, *new_hw]
            dc.save(update_fields=["hardware_versions", "updated"])
    if errors:
        raise _Refused(errors)

    package = (
        FirmwarePackage.objects.select_for_update()
        .filter(manufacturer=manufacturer, package_name=info.package_name)
        .first()
    )
    created = package is None
    if package is not None and package.status in (FirmwareStatus.APPROVED, FirmwareStatus.RETIRED):
        raise _Refused(
            [
                f"error: /RMSFUSMetadata/FirmwareUpgrade/SoftwarePackageInfo/PackageName: package "
                f"{info.package_name!r} of {manufacturer} is {package.get_status_display().lower()} "
                "and can no longer change; give the new version another PackageName"
            ]
        )
    clash = _check_targets(manufacturer, upgrade.software_version, list(classes.values()), package)
    if clash:
        raise _Refused(
            [f"error: /RMSFUSMetadata/FirmwareUpgrade/SoftwareVersion: {e}" for e in clash]
        )

    if package is None:
        package = FirmwarePackage(manufacturer=manufacturer, uploaded_by=actor)
    _apply_package_fields(package, doc)
    try:
        package.full_clean(exclude=["manufacturer", "uploaded_by", "fus_entity", "rms_entity"])
    except ValidationError as exc:
        raise _Refused(
            [f"error: {name}: {'; '.join(msgs)}" for name, msgs in exc.message_dict.items()]
        ) from None

    fus_entity = _fus_entity(doc.fus, actor=actor, warnings=warnings)
    rms_entity = _rms_entity(doc.rms, actor=actor, warnings=warnings)
    package.fus_entity, package.rms_entity = fus_entity, rms_entity
    if package.status == FirmwareStatus.VALIDATED:
        package.status = FirmwareStatus.DRAFT
        warnings.append(
            "the package was validated; its declaration changed, so it is a draft again"
        )
    package.save()

    package.targets.all().delete()
    for dc in classes.values():
        FirmwareTarget.objects.create(
            package=package, device_class=dc, software_version=upgrade.software_version
        )
    write_target_devices(package, upgrade.target_devices, classes)
    return ImportSummary(
        package=package,
        created=created,
        namespace=result.namespace,
        manufacturer_created=manufacturer_created,
        device_classes_created=created_classes,
        fus_entity=fus_entity,
        rms_entity=rms_entity,
        warnings=warnings,
    )


def _hardware_of(target: m.Target) -> tuple[str, ...]:
    if isinstance(target, m.DeviceClassHardwareVersion):
        return target.hardware_versions
    if isinstance(target, m.DeviceGroup):
        return target.device_class_info.hardware_versions
    return ()


def _manufacturer(
    ce: m.CEManufacturer, *, actor, tenant: Manufacturer | None
) -> tuple[Manufacturer, bool]:
    oui = ce.manufacturer_oui.upper()
    where = "/RMSFUSMetadata/CEManufacturer/ManufacturerOUI"
    row = ManufacturerOUI.objects.select_related("manufacturer").filter(oui=oui).first()
    owner = row.manufacturer if row else None
    if tenant is not None or (actor is not None and is_supplier(actor)):
        allowed = [tenant] if tenant is not None else list(actor.manufacturers.all())
        if owner is None or owner not in allowed:
            names = ", ".join(str(a) for a in allowed) or "no manufacturer"
            raise _Refused(
                [f"error: {where}: {oui} is not an OUI of {names}, which you import for"]
            )
        return owner, False
    if owner is not None:
        return owner, False
    if not _may(actor, "fus.add_manufacturer"):
        raise _Refused([f"error: {where}: no manufacturer has OUI {oui}"])
    if not ce.manufacturer_name:
        raise _Refused(
            [
                f"error: {where}: no manufacturer has OUI {oui}; give ManufacturerName so that "
                "one can be created"
            ]
        )
    if Manufacturer.objects.filter(name=ce.manufacturer_name).exists():
        raise _Refused(
            [
                f"error: /RMSFUSMetadata/CEManufacturer/ManufacturerName: {ce.manufacturer_name!r} "
                f"exists but does not have OUI {oui}; add the OUI to it first"
            ]
        )
    manufacturer = Manufacturer.objects.create(name=ce.manufacturer_name)
    ManufacturerOUI.objects.create(manufacturer=manufacturer, oui=oui)
    return manufacturer, True


def _best(locations: tuple[m.ResourceAccessInfo, ...]) -> list[m.ResourceAccessInfo]:
    return sorted(locations, key=lambda loc: (loc.preference is None, loc.preference or 0))


def _manufacturer_locations(
    manufacturer: Manufacturer, ce: m.CEManufacturer, warnings: list[str]
) -> None:
    """CEManufacturer's ReportingOrders and DownloadLocation: the catalogue keeps one URL of each
    (the most preferred); the others are reported as not kept."""
    changed = []
    for attr, locations, label in (
        ("reporting_orders_url", ce.reporting_orders, "ReportingOrders"),
        ("download_location", ce.download_locations, "DownloadLocation"),
    ):
        with_url = [loc for loc in _best(locations) if loc.url]
        dropped = [loc for loc in locations if not loc.url] + with_url[1:]
        if with_url and getattr(manufacturer, attr) != with_url[0].url:
            setattr(manufacturer, attr, with_url[0].url)
            changed.append(attr)
        for loc in dropped:
            where = loc.url or f"{loc.address}:{loc.port}"
            warnings.append(
                f"/RMSFUSMetadata/CEManufacturer/{label}: {where} not kept; the catalogue keeps the "
                "most preferred URL only"
            )
    if changed:
        try:
            manufacturer.full_clean(exclude=["members"])
        except ValidationError as exc:
            raise _Refused(
                [f"error: /RMSFUSMetadata/CEManufacturer: {'; '.join(exc.messages)}"]
            ) from None
        manufacturer.save(update_fields=[*changed, "updated"])


def _apply_package_fields(package: FirmwarePackage, doc: m.RMSFUSMetadata) -> None:
    upgrade = doc.firmware_upgrade
    info = upgrade.software_package_info
    package.software_version = upgrade.software_version
    package.package_name = info.package_name
    package.mode = MetadataMode(doc.mode.value)
    footprint = info.footprint_size or m.FootprintSize()
    package.footprint_volatile = footprint.volatile
    package.footprint_non_volatile = footprint.non_volatile
    packaging = info.image_packaging or m.ImagePackaging()
    package.signed_packaging, package.manifest = packaging.signed_packaging, packaging.manifest
    if info.update_descriptor is not None:
        package.update_flag = info.update_descriptor.update_flag.value
        package.update_method = info.update_descriptor.update_method.value
        package.update_priority = info.update_descriptor.update_priority
    messages = upgrade.message_descriptors
    package.message_descriptor = messages[0].text if messages else ""
    package.message_language = (messages[0].language or "") if messages else ""
    package.message_translations = [
        {"language": d.language or "", "text": d.text} for d in messages[1:]
    ]
    validity = upgrade.validity_time_range
    package.valid_from = validity.start_time if validity else None
    package.valid_until = validity.end_time if validity else None
    tdi = doc.target_devices_info
    package.target_interfaces = [i.value for i in tdi.supported_interfaces] if tdi else []
    package.target_vendor_info = (tdi.vendor_specific_info or "") if tdi else ""
    package.declared_package_size = info.package_size
    package.declared_files = [
        {
            "file_name": f.file_name,
            "file_size": f.file_size,
            "module_type": f.module_type or "",
            "vendor_specific_info": f.vendor_specific_info or "",
        }
        for f in info.package_files
    ]


def _entity_by_id(model, id_field: str, value: str | None, name: str | None):
    if value:
        found = model.objects.filter(**{id_field: value}).first()
        if found:
            return found
    if name:
        return model.objects.filter(name=name).first()
    return None


def _decimal_id(value: str | None) -> str | None:
    try:
        validate_decimal_id(value or "")
    except ValidationError:
        return None
    return value


def _fus_entity(fus: m.FUS | None, *, actor, warnings: list[str]) -> FusEntity | None:
    if fus is None:
        return None
    found = _entity_by_id(FusEntity, "fus_id", fus.fus_id, fus.fus_name)
    if found is not None:
        return found
    where = "/RMSFUSMetadata/FUS"
    if not _may(actor, "fus.add_fusentity"):
        warnings.append(
            f"{where}: FUS {fus.fus_name or fus.fus_id!r} is not one of this operator's; the "
            "package names none (exports name the operator's default FUS)"
        )
        return None
    fus_id = _decimal_id(fus.fus_id)
    if fus_id is None or not fus.fus_name:
        warnings.append(
            f"{where}: no FUS entity created: it needs FUSName and a decimal FUSID (SD&S), "
            f"got {fus.fus_name!r} / {fus.fus_id!r}"
        )
        return None
    entity = FusEntity.objects.create(
        name=fus.fus_name,
        fus_id=fus_id,
        source_address=fus.source_address,
        supported_interfaces=[i.value for i in fus.supported_interfaces],
        delivery_rate=fus.delivery_rate,
    )
    for kind, attr in _FUS_LOCATIONS.items():
        for loc in getattr(fus, attr):
            _location(loc, fus=entity, kind=kind)
    return entity


def _rms_entity(rms: m.RMS | None, *, actor, warnings: list[str]) -> RmsEntity | None:
    if rms is None:
        return None
    found = _entity_by_id(RmsEntity, "rms_id", rms.rms_id, rms.rms_name)
    if found is not None:
        return found
    where = "/RMSFUSMetadata/RMS"
    if not _may(actor, "fus.add_rmsentity"):
        warnings.append(
            f"{where}: RMS {rms.rms_name or rms.rms_id!r} is not one of this operator's; the "
            "package names none (exports name the operator's default RMS)"
        )
        return None
    rms_id = _decimal_id(rms.rms_id)
    if rms_id is None or not rms.rms_name:
        warnings.append(
            f"{where}: no RMS entity created: it needs RMSName and a decimal RMSID (SD&S), "
            f"got {rms.rms_name!r} / {rms.rms_id!r}"
        )
        return None
    entity = RmsEntity.objects.create(name=rms.rms_name, rms_id=rms_id)
    for loc in rms.management_server_locations:
        _location(loc, rms=entity, kind=LocationKind.MANAGEMENT_SERVER)
    return entity


def _location(loc: m.ResourceAccessInfo, **owner) -> ServiceLocation:
    return ServiceLocation.objects.create(
        url=loc.url or "", address=loc.address, port=loc.port, preference=loc.preference, **owner
    )


# --- export --------------------------------------------------------------------------------------


def _infos(locations) -> tuple[m.ResourceAccessInfo, ...]:
    return tuple(
        m.ResourceAccessInfo(
            url=loc.url or None, address=loc.address, port=loc.port, preference=loc.preference
        )
        for loc in sorted(locations, key=lambda loc: loc.pk)
    )


def _fus_of(entity: FusEntity | None) -> m.FUS | None:
    if entity is None:
        return None
    locations = list(entity.locations.all())
    return m.FUS(
        fus_name=entity.name,
        fus_id=entity.fus_id,
        source_address=entity.source_address,
        supported_interfaces=tuple(m.Interface(i) for i in entity.supported_interfaces),
        delivery_rate=entity.delivery_rate,
        **{
            attr: _infos(loc for loc in locations if loc.kind == kind)
            for kind, attr in _FUS_LOCATIONS.items()
        },
    )


def _rms_of(entity: RmsEntity | None) -> m.RMS | None:
    if entity is None:
        return None
    locations = _infos(
        loc for loc in entity.locations.all() if loc.kind == LocationKind.MANAGEMENT_SERVER
    )
    if not locations:
        return None  # ManagementServerLocation is mandatory in an RMS element
    return m.RMS(management_server_locations=locations, rms_name=entity.name, rms_id=entity.rms_id)


def metadata_document(package: FirmwarePackage) -> m.RMSFUSMetadata:
    """The package as a metadata document (what `export_metadata` writes)."""
    manufacturer = package.manufacturer
    target_devices = target_devices_of(package)
    entries = target_devices.entries()
    if entries:
        first = entries[0]
        oui = (
            first.device_class_info if isinstance(first, m.DeviceGroup) else first
        ).manufacturer_oui
    else:
        oui = manufacturer.ouis.values_list("oui", flat=True).first() or ""
    files = list(package.files.all())
    if files:
        package_files = tuple(
            m.PackageFile(
                file_name=f.file_name,
                file_size=f.size,
                vendor_specific_info=f.vendor_specific_info or None,
                module_type=f.module_type or None,
            )
            for f in files
        )
        package_size = sum(f.size for f in files)
    else:
        package_files = tuple(
            m.PackageFile(
                file_name=f["file_name"],
                file_size=f["file_size"],
                vendor_specific_info=f["vendor_specific_info"] or None,
                module_type=f["module_type"] or None,
            )
            for f in package.declared_files
        )
        package_size = package.declared_package_size or 0
    footprint = None
    if package.footprint_volatile is not None or package.footprint_non_volatile is not None:
        footprint = m.FootprintSize(package.footprint_volatile, package.footprint_non_volatile)
    messages = []
    if package.message_descriptor or package.message_language:
        messages.append(
            m.MessageDescriptor(package.message_descriptor, package.message_language or None)
        )
    messages += [
        m.MessageDescriptor(t["text"], t.get("language") or None)
        for t in package.message_translations
    ]
    validity = None
    if package.valid_from and package.valid_until:
        validity = m.ValidityTimeRange(package.valid_from, package.valid_until)
    tdi = None
    if package.target_interfaces or package.target_vendor_info:
        tdi = m.TargetDevicesInfo(
            supported_interfaces=tuple(m.Interface(i) for i in package.target_interfaces),
            vendor_specific_info=package.target_vendor_info or None,
        )
    return m.RMSFUSMetadata(
        mode=m.Mode(package.mode),
        ce_manufacturer=m.CEManufacturer(
            manufacturer_oui=oui,
            manufacturer_name=manufacturer.name,
            download_locations=(
                (m.ResourceAccessInfo(url=manufacturer.download_location),)
                if manufacturer.download_location
                else ()
            ),
            reporting_orders=(
                (m.ResourceAccessInfo(url=manufacturer.reporting_orders_url),)
                if manufacturer.reporting_orders_url
                else ()
            ),
        ),
        firmware_upgrade=m.FirmwareUpgrade(
            software_version=package.software_version,
            target_devices=target_devices,
            software_package_info=m.SoftwarePackageInfo(
                package_name=package.package_name,
                package_size=package_size,
                package_files=package_files,
                footprint_size=footprint,
                image_packaging=m.ImagePackaging(package.signed_packaging, package.manifest),
                update_descriptor=m.UpdateDescriptor(
                    m.UpdateFlag(package.update_flag),
                    m.UpdateMethod(package.update_method),
                    package.update_priority,
                ),
            ),
            validity_time_range=validity,
            message_descriptors=tuple(messages),
        ),
        fus=_fus_of(package.fus_entity or FusEntity.objects.filter(is_default=True).first()),
        rms=_rms_of(package.rms_entity or RmsEntity.objects.filter(is_default=True).first()),
        target_devices_info=tdi,
    )


def export_metadata(package: FirmwarePackage, *, namespace: m.Namespace | None = None) -> bytes:
    """The package's metadata XML (`rms`, or `rms12` when an IPv6 address needs it)."""
    return codec.write(metadata_document(package), namespace=namespace)
