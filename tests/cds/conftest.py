"""cpesim boxes as the real peers of the CDS tests.

`SimBox` puts a `cpesim.box.Box` (the simulator's data model and RPC semantics, unchanged) on the
portal's real `/cwmp` endpoint through Django's test client: Inform, then the ACS's requests one by
one, each answered by the box, until the ACS ends the session. It is what `cpesim.fleet` does over
TCP, without the network, so tests stay deterministic and fast.
"""

from __future__ import annotations

import pytest
from django.test import Client

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_1_2, parse_envelope, write_envelope
from acs.models import Device
from cpesim.box import Box
from cpesim.fleet import FleetConfig
from cpesim.profiles import CONSENT, PULL, PUSH, DeviceSpec

OUI, PRODUCT_CLASS = "00D09E", "A-STB"


class SimBox:
    """One cpesim box speaking CWMP to the portal through the Django test client."""

    def __init__(self, serial: str, *, consent: bool = True, cr_base: str = "") -> None:
        config = FleetConfig(
            acs_url="http://testserver/cwmp",
            connection_request_base=cr_base or "http://127.0.0.1:9/cr",
            consent_fraction=1.0 if consent else 0.0,
            cr_username="",
            cr_password="",
        )
        self.box = Box(config, DeviceSpec(OUI, PRODUCT_CLASS, manufacturer="Alpha"), serial, 0)
        self.client = Client()
        self.rpcs: list[m.Message] = []

    @property
    def model(self):
        return self.box.model

    def session(self, *events: str) -> list[m.Message]:
        """One session; returns the ACS requests the box answered in it."""
        box = self.box
        if not box.online:
            box.power_on()
        for event in events:
            box.add_event(event)
        inform, delivered = box.build_inform()
        answer = self._post(write_envelope(inform, cwmp_id="1", namespace=CWMP_1_2))
        assert isinstance(answer.message, m.InformResponse), answer
        box.inform_delivered(delivered)
        handled: list[m.Message] = []
        response = self.client.post("/cwmp", data=b"", content_type="text/xml")
        while response.status_code == 200 and response.content:
            envelope = parse_envelope(response.content)
            handled.append(envelope.message)
            reply = box.handle_rpc(envelope.message)
            response = self.client.post(
                "/cwmp",
                data=write_envelope(reply, cwmp_id=envelope.cwmp_id, namespace=CWMP_1_2),
                content_type="text/xml",
            )
        assert response.status_code == 204, response.content
        after = box.take_after()
        if after.reboot is not None:
            box.online = False
            box.add_event("M Reboot", after.reboot)
        self.rpcs.extend(handled)
        return handled

    def _post(self, body: bytes):
        response = self.client.post("/cwmp", data=body, content_type="text/xml")
        assert response.status_code == 200, response.content
        return parse_envelope(response.content)

    def device(self) -> Device:
        return Device.objects.get(serial_number=self.box.serial)

    # What the box holds, for assertions --------------------------------------------------------

    def items(self, service: str = "push") -> dict[int, dict[str, str]]:
        base = (PUSH if service == "push" else PULL) + "Content.Item."
        out: dict[int, dict[str, str]] = {}
        for number in self.model.instances(base):
            prefix = f"{base}{number}."
            out[number] = {
                name: self.model.get(prefix + name)
                for name in ("ContentReferenceId", "VersionNumber", "Size")
            }
        return out

    def folder_used(self, service: str = "push") -> int:
        folder = self.model.get((PUSH if service == "push" else PULL) + "Reference")
        return int(self.model.read(folder + ".Quota.UsedSpace"))

    def consent(self) -> bool:
        return self.model.get(CONSENT) == "true"


@pytest.fixture
def acs_open(settings):
    """Labs mode: boxes are not authenticated (the tests are about CDS, not box auth)."""
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture
def sim(tenants, acs_open):
    """A registered cpesim box of Alpha's class with the user's pull consent."""
    box = SimBox("CDS00001")
    box.session()
    return box
