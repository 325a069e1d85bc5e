"""The device registry's model contract: derived ordering keys, uniqueness, tenancy."""

import pytest
from django.db import IntegrityError

from acs.models import Device
from fus.metadata.identifiers import parse_mac, serial_index_key


@pytest.mark.django_db
def test_save_keeps_serial_key_and_mac_in_sync(tenants):
    device = Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="000123",
        manufacturer="Alpha",
        mac_address="00:d0:9e:00:00:01",
        device_class=tenants["dc_a"],
    )
    assert device.serial_key == serial_index_key("000123")
    assert device.mac == parse_mac("00:d0:9e:00:00:01")
    device.serial_number = "9"
    device.mac_address = ""
    device.save(update_fields=["serial_number", "mac_address"])
    device.refresh_from_db()
    assert device.serial_key == serial_index_key("9")
    assert device.mac is None


@pytest.mark.django_db
def test_device_id_is_unique():
    Device.objects.create(oui="00D09E", product_class="X", serial_number="1", manufacturer="M")
    with pytest.raises(IntegrityError):
        Device.objects.create(oui="00D09E", product_class="X", serial_number="1", manufacturer="M")


@pytest.mark.django_db
def test_suppliers_see_only_their_manufacturers_devices(tenants):
    a = Device.objects.create(
        oui="00D09E", product_class="A-STB", serial_number="1", device_class=tenants["dc_a"]
    )
    b = Device.objects.create(
        oui="3C62F0", product_class="B-STB", serial_number="1", device_class=tenants["dc_b"]
    )
    orphan = Device.objects.create(oui="ABCDEF", product_class="Z", serial_number="1")
    assert set(Device.objects.restrict(tenants["supplier_a"])) == {a}
    assert set(Device.objects.restrict(tenants["supplier_b"])) == {b}
    assert set(Device.objects.restrict(tenants["noc"])) == {a, b, orphan}
    assert set(Device.objects.restrict(tenants["helpdesk"], "change")) == {a, b, orphan}
    assert not Device.objects.restrict(tenants["helpdesk"], "delete").exists()
    assert not Device.objects.restrict(tenants["supplier_a"], "change").exists()
