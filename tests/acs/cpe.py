"""A scripted CPE for endpoint tests: builds real CWMP envelopes with the codec and POSTs them
through Django's test client (one client = one box's cookie jar)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import Client

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_1_2, Envelope, parse_envelope, write_envelope

CWMP_URL = "/cwmp"


def inform(
    serial: str = "SN0001",
    *,
    oui: str = "00D09E",
    product_class: str = "A-STB",
    software_version: str = "1.0.0",
    events: tuple[str, ...] = ("0 BOOTSTRAP", "1 BOOT"),
    command_keys: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
    interval: int | None = 300,
) -> m.Inform:
    params = {
        "Device.DeviceInfo.HardwareVersion": "HW1",
        "Device.DeviceInfo.SoftwareVersion": software_version,
        "Device.ManagementServer.ConnectionRequestURL": "http://192.0.2.10:7547/cr",
        "Device.ManagementServer.ParameterKey": "",
        "Device.Ethernet.Interface.1.MACAddress": "00:D0:9E:00:00:01",
    }
    if interval is not None:
        params["Device.ManagementServer.PeriodicInformInterval"] = str(interval)
    params.update(extra or {})
    return m.Inform(
        m.DeviceId("Alpha", oui, product_class, serial),
        tuple(m.EventStruct(code, (command_keys or {}).get(code, "")) for code in events),
        1,
        datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        0,
        tuple(m.ParameterValue(k, m.TypedValue(v)) for k, v in params.items()),
    )


def envelope(message: m.Message, cwmp_id: str | None = "1", namespace: str = CWMP_1_2) -> bytes:
    return write_envelope(message, cwmp_id=cwmp_id, namespace=namespace)


class Box:
    """One simulated CPE speaking to the endpoint through a Django test client."""

    def __init__(self, client: Client | None = None, **headers) -> None:
        self.client = client or Client()
        self.headers = headers
        self.last = None

    def post(self, body: bytes, **extra):
        response = self.client.post(
            CWMP_URL, data=body, content_type="text/xml; charset=utf-8", **self.headers, **extra
        )
        self.last = response
        return response

    def send(self, message: m.Message | None, cwmp_id: str | None = "1", **extra):
        return self.post(b"" if message is None else envelope(message, cwmp_id), **extra)

    @staticmethod
    def parsed(response) -> Envelope | None:
        return parse_envelope(response.content) if response.content else None

    def session(self, inform_message: m.Inform, **extra) -> list[Envelope]:
        """Inform, then the empty POST; returns the ACS requests received before the 204
        (answering none of them: callers needing answers drive the session themselves)."""
        response = self.send(inform_message, **extra)
        assert response.status_code == 200, response.content
        assert isinstance(self.parsed(response).message, m.InformResponse)
        response = self.send(None)
        out = []
        if response.status_code == 200:
            out.append(self.parsed(response))
        return out
