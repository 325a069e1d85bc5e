"""A fleet of boxes of Alpha's device class on 1.0.0 and an approved 2.0.0 package for them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acs.models import Device
from fus.services import catalogue
from tests.factories import make_package

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_fleet(device_class, n: int, *, start: int = 1, prefix: str = "", **fields) -> list[Device]:
    """`n` boxes with serials start..start+n-1 (zero-padded to 6 digits), software 1.0.0."""
    rows = []
    for i in range(start, start + n):
        serial = f"{prefix}{i:06d}"
        mac = f"00:d0:9e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        values = {
            "manufacturer": device_class.manufacturer.name,
            "hardware_version": "1.0",
            "software_version": "1.0.0",
            "root_object": "Device",
            "mac_address": mac,
            **fields,
        }
        rows.append(
            Device(
                oui=device_class.oui,
                product_class=device_class.product_class,
                serial_number=serial,
                device_class=device_class,
                **values,
                **Device.identity_columns(serial, mac),
            )
        )
    return Device.objects.bulk_create(rows)


@pytest.fixture
def package(tenants):
    """Alpha's approved 2.0.0 for its device class (managed mode)."""
    pkg = make_package(tenants["dc_a"], "2.0.0", actor=tenants["noc"])
    return catalogue.approve_firmware(pkg, actor=tenants["noc"])


@pytest.fixture
def fleet(tenants):
    return make_fleet(tenants["dc_a"], 100)


@pytest.fixture(autouse=True)
def _download_base(settings):
    settings.FUS_DOWNLOAD_BASE_URL = "https://fus.example.net/firmware/"
