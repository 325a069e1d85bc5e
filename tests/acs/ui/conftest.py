"""Devices of two manufacturers for the device pages' tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from acs.models import Device, DeviceParameters


def make_device(device_class, serial: str, **fields) -> Device:
    defaults = {
        "manufacturer": device_class.manufacturer.name,
        "hardware_version": "HW1",
        "software_version": "1.0.0",
        "root_object": "Device",
    }
    defaults.update(fields)
    return Device.objects.create(
        oui=device_class.oui,
        product_class=device_class.product_class,
        serial_number=serial,
        device_class=device_class,
        **defaults,
    )


@pytest.fixture
def devices(tenants):
    """Two boxes of Alpha (one online), one of Beta, with a small parameter tree."""
    now = timezone.now()
    a1 = make_device(
        tenants["dc_a"],
        "A0001",
        ip_address="192.0.2.1",
        mac_address="00:d0:9e:00:00:01",
        online_until=now + timezone.timedelta(minutes=10),
        last_inform=now,
        tags=["lab", "vip"],
    )
    a2 = make_device(tenants["dc_a"], "A0002", software_version="0.9.0", tags=["lab"])
    b1 = make_device(tenants["dc_b"], "B0001", ip_address="198.51.100.7")
    DeviceParameters.objects.create(
        device=a1,
        tree={
            "Device.DeviceInfo.SoftwareVersion": ["1.0.0", "string", False],
            "Device.DeviceInfo.HardwareVersion": ["HW1", "string", False],
            "Device.ManagementServer.PeriodicInformInterval": ["300", "unsignedInt", True],
            "Device.ManagementServer.URL": ["http://acs.example/cwmp", "string", True],
            "Device.Services.STBService.1.": [None, None, False],
        },
    )
    return {"a1": a1, "a2": a2, "b1": b1}


class _BoxHandler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def connection_request_box():
    """A box's connection request endpoint (answers 204) and the paths it was asked for."""
    _BoxHandler.hits = []
    server = HTTPServer(("127.0.0.1", 0), _BoxHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cr", _BoxHandler.hits
    server.shutdown()
    server.server_close()
