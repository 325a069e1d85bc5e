"""The database targeting engine against the pure one (`fus.metadata.targeting`), its oracle.

Random catalogues of the small universe (two OUIs, two product classes, serials and MACs 0-40) are
stored as target rows, random devices as `acs.Device` rows; both directions must agree with the
pure engine for every device, package and time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acs.models import Device
from fus.choices import FirmwareStatus
from fus.metadata import model as m
from fus.metadata.identifiers import format_mac, parse_mac
from fus.metadata.targeting import DeviceIdentity, TargetingIndex
from fus.models import DeviceClass, FirmwarePackage, Manufacturer
from fus.services import catalogue
from fus.services.targeting import (
    applicable_packages,
    cached_applicable_packages,
    target_devices_of,
    targeted_devices,
    write_target_devices,
)
from tests.fus.metadata import strategies as S

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, tzinfo=UTC)
TIMES = st.sampled_from([T0 - timedelta(days=400), T0, T0 + timedelta(days=400)])


def _catalogue() -> dict[tuple[str, str], DeviceClass]:
    maker = Manufacturer.objects.create(name="Maker")
    catalogue.set_manufacturer_ouis(maker, ["00D09E", "A0B1C2"])
    return {
        (oui, pc): DeviceClass.objects.create(manufacturer=maker, oui=oui, product_class=pc)
        for oui in ("00D09E", "A0B1C2")
        for pc in ("STB1", "STB2")
    }


def _store(upgrade: m.FirmwareUpgrade, classes, index: int) -> FirmwarePackage:
    descriptor = upgrade.software_package_info.update_descriptor
    validity = upgrade.validity_time_range
    package = FirmwarePackage.objects.create(
        manufacturer=next(iter(classes.values())).manufacturer,
        software_version=upgrade.software_version,
        package_name=f"pkg-{index}",
        status=FirmwareStatus.APPROVED,
        update_priority=descriptor.update_priority if descriptor else 3,
        valid_from=validity.start_time if validity else None,
        valid_until=validity.end_time if validity else None,
    )
    write_target_devices(package, upgrade.target_devices, classes)
    return package


def _identity(device: Device) -> DeviceIdentity:
    return DeviceIdentity(
        manufacturer_oui=device.oui,
        product_class=device.product_class,
        hardware_version=device.hardware_version or None,
        software_version=device.software_version or None,
        serial_number=device.serial_number or None,
        mac_address=device.mac_address or None,
    )


def _store_devices(identities) -> list[Device]:
    seen, devices = set(), []
    for identity in identities:
        key = (identity.manufacturer_oui.upper(), identity.product_class, identity.serial_number)
        if key in seen:
            continue
        seen.add(key)
        mac = identity.mac_address
        devices.append(
            Device.objects.create(
                oui=identity.manufacturer_oui.upper(),
                product_class=identity.product_class,
                serial_number=identity.serial_number or "",
                manufacturer="Maker",
                hardware_version=identity.hardware_version or "",
                software_version=identity.software_version or "",
                mac_address=format_mac(parse_mac(mac)) if mac else "",
            )
        )
    return devices


upgrade_lists = st.lists(
    S.firmware_upgrades(S.SMALL), min_size=1, max_size=3, unique_by=lambda u: u.software_version
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    upgrades=upgrade_lists,
    identities=st.lists(S.device_identities(S.SMALL), min_size=1, max_size=12),
    at=TIMES,
)
def test_database_engine_agrees_with_the_pure_engine(upgrades, identities, at):
    with transaction.atomic():
        classes = _catalogue()
        packages = [_store(u, classes, i) for i, u in enumerate(upgrades)]
        devices = _store_devices(identities)
        index = TargetingIndex(upgrades)
        by_version = {p.software_version: p for p in packages}

        expected_population = {p.pk: set() for p in packages}
        for device in devices:
            pure = index.applicable(_identity(device), at=at)
            db = applicable_packages(_identity(device), at=at)
            assert {(a.upgrade.software_version, a.specificity) for a in pure} == {
                (match.package.software_version, match.specificity) for match in db
            }, device
            ranks = [
                (
                    not x.specificity.identified,
                    not x.specificity.software,
                    not x.specificity.hardware,
                    x.priority,
                )
                for x in db
            ]
            assert ranks == sorted(ranks)
            cached = cached_applicable_packages(_identity(device), at=at)
            assert [(x.package.pk, x.specificity) for x in cached] == [
                (x.package.pk, x.specificity) for x in db
            ], device
            for a in pure:
                expected_population[by_version[a.upgrade.software_version].pk].add(device.pk)

        for package in packages:
            got = set(targeted_devices(package, at=at).values_list("pk", flat=True))
            assert got == expected_population[package.pk], package
        transaction.set_rollback(True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upgrade=S.firmware_upgrades(S.SMALL))
def test_target_rows_round_trip(django_db_blocker, upgrade):
    with django_db_blocker.unblock(), transaction.atomic():
        classes = _catalogue()
        package = _store(upgrade, classes, 0)
        assert _normalised(target_devices_of(package)) == _normalised(upgrade.target_devices)
        transaction.set_rollback(True)


def _normalised(td: m.TargetDevices) -> m.TargetDevices:
    """Version lists are sets in the database (a repeated version means nothing more)."""

    def dedupe(versions):
        return tuple(dict.fromkeys(versions))

    def upper(oui):
        return oui.upper()

    return m.TargetDevices(
        tuple(m.DeviceClass(upper(t.manufacturer_oui), t.product_class) for t in td.device_classes),
        tuple(
            m.DeviceClassHardwareVersion(
                upper(t.manufacturer_oui), t.product_class, dedupe(t.hardware_versions)
            )
            for t in td.device_class_hardware_versions
        ),
        tuple(
            m.DeviceClassSoftware(
                upper(t.manufacturer_oui), t.product_class, dedupe(t.software_versions)
            )
            for t in td.device_class_softwares
        ),
        tuple(
            m.DeviceGroup(
                m.DeviceClassInfo(
                    upper(g.device_class_info.manufacturer_oui),
                    g.device_class_info.product_class,
                    dedupe(g.device_class_info.hardware_versions),
                    dedupe(g.device_class_info.software_versions),
                ),
                g.range_list,
            )
            for g in td.device_groups
        ),
    )


def test_seed_example_population(tenants):
    """The seed's RangeList on the database: 123123-231230, 255556-456456 and four items."""
    dc = tenants["dc_a"]
    group = m.DeviceGroup(
        m.DeviceClassInfo(dc.oui, dc.product_class),
        m.RangeList(
            (
                m.Range("123123", "456456"),
                m.Range("231231", "255555", m.Availability.EXCLUSIVE),
                m.Item(("678678", "678688", "678698", "678778")),
            )
        ),
    )
    package = FirmwarePackage.objects.create(
        manufacturer=tenants["a"], software_version="2.0", package_name="seed"
    )
    write_target_devices(
        package, m.TargetDevices(device_groups=(group,)), {(dc.oui, dc.product_class): dc}
    )
    serials = [
        "123122",
        "123123",
        "231230",
        "231231",
        "255555",
        "255556",
        "456456",
        "456457",
        "678678",
        "678688",
        "678689",
        "0678698",
        "678778",
        "",
    ]
    for sn in serials:
        Device.objects.create(
            oui=dc.oui, product_class=dc.product_class, serial_number=sn, manufacturer="A"
        )
    got = sorted(targeted_devices(package).values_list("serial_number", flat=True))
    assert got == sorted(
        ["123123", "231230", "255556", "456456", "678678", "678688", "0678698", "678778"]
    )


def test_validity_window_and_installed_version(tenants):
    dc = tenants["dc_a"]
    package = catalogue.create_firmware(
        tenants["a"],
        catalogue.FirmwareDraft(software_version="2.0", package_name="p", device_classes=[dc]),
        actor=tenants["admin"],
    )
    package.valid_from, package.valid_until = T0, T0 + timedelta(days=1)
    package.status = FirmwareStatus.APPROVED
    package.save()
    old = Device.objects.create(
        oui=dc.oui, product_class=dc.product_class, serial_number="1", software_version="1.0"
    )
    Device.objects.create(
        oui=dc.oui, product_class=dc.product_class, serial_number="2", software_version="2.0"
    )
    assert list(targeted_devices(package, at=T0)) == [old]
    assert list(targeted_devices(package, at=T0 + timedelta(days=1))) == [old]  # EndTime included
    assert not targeted_devices(package, at=T0 - timedelta(seconds=1)).exists()
    assert targeted_devices(package, at=T0, include_installed=True).count() == 2
    assert [x.package for x in applicable_packages(_identity(old), at=T0)] == [package]
    assert applicable_packages(_identity(old), at=T0 + timedelta(days=2)) == []
    package.status = FirmwareStatus.RETIRED
    package.save()
    assert applicable_packages(_identity(old), at=T0) == []


def test_form_edit_keeps_imported_groups(tenants):
    """Changing a package's device classes in a form keeps the entries (and RangeLists) of the
    classes that stay, drops the removed ones, adds plain entries for new ones."""
    dc = tenants["dc_a"]
    other = DeviceClass.objects.create(manufacturer=tenants["a"], oui=dc.oui, product_class="X2")
    package = catalogue.create_firmware(
        tenants["a"],
        catalogue.FirmwareDraft(software_version="3.0", package_name="p", device_classes=[dc]),
        actor=tenants["admin"],
    )
    group = m.DeviceGroup(
        m.DeviceClassInfo(dc.oui, dc.product_class), m.RangeList((m.Range("1", "10"),))
    )
    write_target_devices(
        package, m.TargetDevices(device_groups=(group,)), {(dc.oui, dc.product_class): dc}
    )
    catalogue.update_firmware(package, {}, actor=tenants["admin"], device_classes=[dc, other])
    td = target_devices_of(package)
    assert td.device_groups == (group,)
    assert td.device_classes == (m.DeviceClass(dc.oui, "X2"),)
    catalogue.update_firmware(package, {}, actor=tenants["admin"], device_classes=[other])
    assert target_devices_of(package).entries() == (m.DeviceClass(dc.oui, "X2"),)


def test_cached_index_follows_changes_made_elsewhere(tenants, settings):
    """A change another process makes (no signal here) is seen within TARGETING_CACHE_SECONDS;
    a change made in this process at once."""
    from fus.services import targeting

    dc = tenants["dc_a"]
    device = Device.objects.create(
        oui=dc.oui, product_class=dc.product_class, serial_number="5", software_version="1.0"
    )
    package = catalogue.create_firmware(
        tenants["a"],
        catalogue.FirmwareDraft(software_version="2.0", package_name="p", device_classes=[dc]),
        actor=tenants["admin"],
    )
    settings.TARGETING_CACHE_SECONDS = 3600
    assert cached_applicable_packages(_identity(device)) == []
    package.status = FirmwareStatus.APPROVED
    package.save()  # this process: seen at once
    assert [x.package for x in cached_applicable_packages(_identity(device))] == [package]
    # another process retires it: a queryset update sends no signal
    FirmwarePackage.objects.filter(pk=package.pk).update(status=FirmwareStatus.RETIRED)
    assert [x.package for x in cached_applicable_packages(_identity(device))] == [package]
    settings.TARGETING_CACHE_SECONDS = 0
    assert cached_applicable_packages(_identity(device)) == []
    assert targeting._CATALOGUE.index is not None
