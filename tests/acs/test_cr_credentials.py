"""The ACS gives a box connection-request credentials when it knows none, so that it can wake
the box (TR-069 3.2.2): SetParameterValues of ManagementServer.ConnectionRequestUsername/Password
in the box's session, kept for connection requests when the box accepts them; the password
masked everywhere but the device row."""

from __future__ import annotations

import pytest

from acs.cwmp import messages as m
from acs.models import Device, DeviceParameters, Task
from acs.services import connection
from acs.services.tasks import CR_CREDENTIALS_KEY, MASKED
from tests.acs.cpe import Box, inform

pytestmark = pytest.mark.django_db

MS = "Device.ManagementServer."


@pytest.fixture
def provisioning(settings, tenants):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS = True


def _inform(box: Box, serial: str, events=("0 BOOTSTRAP", "1 BOOT")) -> None:
    response = box.send(inform(serial, events=events))
    assert response.status_code == 200, response.content


def _spv(box: Box):
    """The empty POST: the ACS asks for the credentials SetParameterValues."""
    response = box.send(None)
    assert response.status_code == 200, response.status_code
    envelope = box.parsed(response)
    assert isinstance(envelope.message, m.SetParameterValues), envelope.message
    assert envelope.message.parameter_key == CR_CREDENTIALS_KEY
    return envelope


def test_a_box_without_known_credentials_is_given_some_and_they_are_kept(provisioning):
    box = Box()
    _inform(box, "CR0001")
    envelope = _spv(box)
    values = {p.name: p.value.text for p in envelope.message.parameters}
    username = values[MS + "ConnectionRequestUsername"]
    password = values[MS + "ConnectionRequestPassword"]
    assert username == "cr-CR0001" and len(password) >= 20
    answer = box.send(m.SetParameterValuesResponse(0), cwmp_id=envelope.cwmp_id)
    assert answer.status_code == 204
    device = Device.objects.get(serial_number="CR0001")
    assert (device.connection_request_username, device.connection_request_password) == (
        username,
        password,
    )
    # the password is nowhere else: not in the stored task, not in the parameter tree
    (task,) = Task.objects.filter(device=device, rpc="SetParameterValues")
    stored = {p["name"]: p["value"]["text"] for p in task.request["parameters"]}
    assert stored[MS + "ConnectionRequestPassword"] == MASKED
    tree = DeviceParameters.objects.get(device=device).tree
    assert tree[MS + "ConnectionRequestPassword"][0] == ""
    # known now: the next session asks nothing
    _inform(box, "CR0001", events=("2 PERIODIC",))
    assert box.send(None).status_code == 204


def test_a_refusal_keeps_nothing_and_is_not_asked_again_every_session(provisioning):
    box = Box()
    _inform(box, "CR0002")
    envelope = _spv(box)
    box.send(m.Fault(9001, "Request denied"), cwmp_id=envelope.cwmp_id)
    device = Device.objects.get(serial_number="CR0002")
    assert device.connection_request_username == ""
    # the box said no: the next session does not ask again (the operator imports credentials)
    _inform(Box(), "CR0002", events=("2 PERIODIC",))
    assert Task.objects.filter(device=device, rpc="SetParameterValues").count() == 1


def test_imported_credentials_are_left_alone(provisioning):
    box = Box()
    _inform(box, "CR0003")
    device = Device.objects.get(serial_number="CR0003")
    Task.objects.filter(device=device).delete()
    connection.set_connection_request_credentials(
        device, username="factory", password="factory-secret", actor=None
    )
    assert box.send(None).status_code == 204
    _inform(box, "CR0003", events=("2 PERIODIC",))
    assert box.send(None).status_code == 204
    device.refresh_from_db()
    assert device.connection_request_username == "factory"


def test_switched_off_nothing_is_sent(provisioning, settings):
    settings.CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS = False
    box = Box()
    _inform(box, "CR0004")
    assert box.send(None).status_code == 204
