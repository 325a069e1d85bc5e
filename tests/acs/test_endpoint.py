"""The /cwmp endpoint end to end through Django's HTTP stack: sessions, tasks, bad input."""

from __future__ import annotations

import pytest
from django.test import Client

from acs.choices import DeviceEventKind, TaskState
from acs.cwmp import messages as m
from acs.cwmp.faults import FaultCode
from acs.models import (
    CwmpSession,
    Device,
    DeviceEvent,
    SessionTranscript,
    SoftwareVersionChange,
    Task,
)
from acs.services import tasks as task_services
from tests.acs.cpe import Box, inform

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _open_acs(settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False


def device_state(device: Device) -> dict:
    device.refresh_from_db()
    return {
        f.attname: getattr(device, f.attname)
        for f in Device._meta.concrete_fields
        if f.attname != "updated"
    }


def test_inform_registers_the_device_and_the_empty_post_ends_the_session(tenants):
    box = Box()
    response = box.send(inform(), cwmp_id="inform-1")
    assert response.status_code == 200
    answer = box.parsed(response)
    assert answer.message == m.InformResponse(1)
    assert answer.cwmp_id == "inform-1"
    assert "cwmp_session" in response.cookies
    device = Device.objects.get()
    assert (device.oui, device.product_class, device.serial_number) == ("00D09E", "A-STB", "SN0001")
    assert device.software_version == "1.0.0" and device.hardware_version == "HW1"
    assert device.mac_address == "00:d0:9e:00:00:01" and device.mac == 0x00D09E000001
    assert device.device_class == tenants["dc_a"]
    assert device.connection_request_url == "http://192.0.2.10:7547/cr"
    assert device.periodic_inform_interval == 300 and device.is_online
    assert device.last_events == ["0 BOOTSTRAP", "1 BOOT"]
    assert device.ip_address == "127.0.0.1"
    assert device.parameters.tree["Device.DeviceInfo.SoftwareVersion"] == ["1.0.0", "string", None]
    assert CwmpSession.objects.filter(device=device).exists()

    response = box.send(None)
    assert response.status_code == 204
    assert not CwmpSession.objects.exists()
    transcript = SessionTranscript.objects.get(device=device)
    assert [e["direction"] for e in transcript.entries] == ["in", "out", "in"]
    assert "InformResponse" in transcript.entries[1]["body"]
    kinds = set(DeviceEvent.objects.filter(device=device).values_list("kind", flat=True))
    assert {DeviceEventKind.REGISTERED, DeviceEventKind.INFORM} <= kinds
    assert SoftwareVersionChange.objects.get(device=device).software_version == "1.0.0"


def test_periodic_informs_write_no_event_rows_and_version_changes_are_kept(tenants):
    box = Box()
    box.session(inform())
    events = DeviceEvent.objects.count()
    stored = Device.objects.get().parameters.updated
    box.session(inform(events=("2 PERIODIC",)))
    assert DeviceEvent.objects.count() == events
    assert Device.objects.get().parameters.updated == stored  # same values: tree not rewritten
    box.session(inform(events=("2 PERIODIC",), software_version="1.1.0"))
    history = list(
        SoftwareVersionChange.objects.values_list("previous_version", "software_version")
    )
    assert history == [("1.0.0", "1.1.0"), ("", "1.0.0")]
    assert DeviceEvent.objects.filter(kind=DeviceEventKind.SOFTWARE_CHANGED).count() == 1


def test_tasks_go_out_in_queue_order_one_at_a_time_and_record_results(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    gpv = task_services.queue_task(
        device, m.GetParameterValues(("Device.DeviceInfo.UpTime",)), actor=tenants["noc"]
    )
    reboot = task_services.reboot(device, actor=tenants["noc"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    request = box.parsed(box.send(None))
    assert request.message == m.GetParameterValues(("Device.DeviceInfo.UpTime",))
    gpv.refresh_from_db()
    assert gpv.state == TaskState.SENT and gpv.attempts == 1
    answer = m.GetParameterValuesResponse(
        (m.ParameterValue("Device.DeviceInfo.UpTime", m.TypedValue("42", m.XsdType.UNSIGNED_INT)),)
    )
    request = box.parsed(box.send(answer, cwmp_id=request.cwmp_id))
    assert isinstance(request.message, m.Reboot)
    gpv.refresh_from_db()
    assert gpv.state == TaskState.DONE and gpv.result == {"values": 1}
    assert device.parameters.__class__.objects.get(device=device).tree[
        "Device.DeviceInfo.UpTime"
    ] == ["42", "unsignedInt", None]
    response = box.send(m.RebootResponse(), cwmp_id=request.cwmp_id)
    assert response.status_code == 204
    reboot.refresh_from_db()
    assert reboot.state == TaskState.DONE


def test_refresh_reads_names_then_values_in_the_same_session(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task_services.refresh_parameters(device, actor=tenants["helpdesk"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    request = box.parsed(box.send(None))
    assert request.message == m.GetParameterNames("Device.", False)
    names = m.GetParameterNamesResponse(
        (
            m.ParameterInfo("Device.", False),
            m.ParameterInfo("Device.DeviceInfo.", False),
            m.ParameterInfo("Device.DeviceInfo.SoftwareVersion", False),
            m.ParameterInfo("Device.ManagementServer.PeriodicInformInterval", True),
        )
    )
    request = box.parsed(box.send(names, cwmp_id=request.cwmp_id))
    assert request.message == m.GetParameterValues(
        ("Device.DeviceInfo.SoftwareVersion", "Device.ManagementServer.PeriodicInformInterval")
    )
    values = m.GetParameterValuesResponse(
        (
            m.ParameterValue("Device.DeviceInfo.SoftwareVersion", m.TypedValue("1.0.0")),
            m.ParameterValue(
                "Device.ManagementServer.PeriodicInformInterval",
                m.TypedValue("300", m.XsdType.UNSIGNED_INT),
            ),
        )
    )
    assert box.send(values, cwmp_id=request.cwmp_id).status_code == 204
    tree = Device.objects.get().parameters.tree
    assert tree["Device.ManagementServer.PeriodicInformInterval"] == ["300", "unsignedInt", True]
    # The refresh's names are the whole truth below Device.: Inform-only paths not named are gone.
    assert "Device.Ethernet.Interface.1.MACAddress" not in tree
    assert Device.objects.get().parameters.refreshed is not None
    # ... until the next Inform reports it again (the unchanged-Inform shortcut was reset).
    box.session(inform(events=("2 PERIODIC",)))
    assert "Device.Ethernet.Interface.1.MACAddress" in Device.objects.get().parameters.tree
    assert set(Task.objects.values_list("state", flat=True)) == {TaskState.DONE}


def test_a_fault_is_kept_with_code_and_text(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.set_parameter_values(
        device, {"Device.DeviceInfo.X_Foo": "bar"}, actor=tenants["noc"]
    )
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    request = box.parsed(box.send(None))
    fault = m.Fault(
        FaultCode.INVALID_ARGUMENTS,
        "Invalid arguments",
        (m.SetParameterValuesFault("Device.DeviceInfo.X_Foo", 9005, "Invalid parameter name"),),
    )
    assert box.send(fault, cwmp_id=request.cwmp_id).status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.FAULT
    assert (task.fault_code, task.fault_string) == (9003, "Invalid arguments")
    assert task.result["set_parameter_values_faults"][0]["code"] == 9005


def test_retryable_fault_and_abandoned_rpc_are_retried_with_backoff_then_fail(tenants, settings):
    settings.CWMP_TASK_RETRY_BASE = 0  # no wait between attempts in this test
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    Task.objects.filter(pk=task.pk).update(max_attempts=2)
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    request = box.parsed(box.send(None))
    # Fault 9002 (internal error) is retried: with no backoff, at once in the same session ...
    response = box.send(m.Fault(FaultCode.INTERNAL_ERROR, "busy"), cwmp_id=request.cwmp_id)
    request = box.parsed(response)
    assert isinstance(request.message, m.Reboot) and request.cwmp_id.endswith(".2")
    task.refresh_from_db()
    assert task.state == TaskState.SENT and task.attempts == 2 and task.fault_code == 9002
    # ... then abandoned (protocol violation) with no attempt left: failed for good.
    response = box.send(None)  # empty POST while a request is outstanding
    assert response.status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.FAULT and task.attempts == 2
    assert "no answer after 2 attempts" in task.reason


def test_backoff_delays_the_next_attempt(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    box.send(None)
    assert box.send(None).status_code == 204  # empty POST instead of RebootResponse: abandoned
    task.refresh_from_db()
    assert task.state == TaskState.QUEUED and task.not_before > task.sent
    box.send(inform(events=("2 PERIODIC",)))
    assert box.send(None).status_code == 204  # not yet: backoff


def test_unknown_method_gets_fault_8000_and_changes_nothing(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    before = device_state(device)
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Body><cwmp:Kicked><command>x</command>'
        b"</cwmp:Kicked></soap:Body></soap:Envelope>"
    )
    response = box.post(body)
    assert response.status_code == 200
    fault = box.parsed(response).message
    assert isinstance(fault, m.Fault) and fault.fault_code == 8000
    assert device_state(device) == before


def test_malformed_xml_is_refused_and_ends_the_session_cleanly(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    box.send(None)  # Reboot in flight
    before = device_state(device)
    response = box.post(b"<SOAP-ENV:Envelope><unclosed>")
    assert response.status_code == 400
    assert b"Malformed CWMP message" in response.content
    assert not CwmpSession.objects.exists()
    assert device_state(device) == before
    task.refresh_from_db()
    assert task.state == TaskState.QUEUED and "malformed POST" in task.reason
    assert "malformed POST" in SessionTranscript.objects.filter(device=device).first().outcome


def test_malformed_xml_without_session_changes_nothing(tenants):
    response = Box().post(b"<not-xml")
    assert response.status_code == 400
    assert not Device.objects.exists()


def test_oversized_body_is_refused_before_parsing(tenants, settings):
    settings.CWMP_MAX_BODY = 2048
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    before = device_state(device)
    big = inform(extra={"Device.X_Blob": "x" * 4096})
    response = box.send(big)
    assert response.status_code == 413
    assert device_state(device) == before
    assert Device.objects.count() == 1


def test_an_inform_with_an_unusable_device_id_is_refused_and_stores_nothing(tenants):
    response = Box().send(inform(serial=" "))
    assert response.status_code == 400
    assert b"SerialNumber is empty" in response.content
    response = Box().send(inform(oui="00D09"))
    assert response.status_code == 400 and b"OUI" in response.content
    assert not Device.objects.exists()


def test_messages_in_the_wrong_state(tenants):
    box = Box()
    # No session: anything but an Inform is refused quietly and stores nothing.
    assert box.send(m.TransferComplete("k", m.TransferFault(), None, None)).status_code == 204
    assert box.send(None).status_code == 204
    assert not Device.objects.exists()
    # In a session: a response the ACS never asked for ends the session, recorded as a violation.
    box.send(inform())
    device = Device.objects.get()
    before = device_state(device)
    response = box.send(m.RebootResponse())
    assert response.status_code == 204
    assert not CwmpSession.objects.exists()
    assert device_state(device) == before
    violation = DeviceEvent.objects.get(device=device, kind=DeviceEventKind.PROTOCOL)
    assert "unexpected RebootResponse" in violation.message


def test_a_wrong_cwmp_id_abandons_the_request(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    box.send(None)
    assert box.send(m.RebootResponse(), cwmp_id="not-mine").status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.QUEUED and "does not match" in task.reason


def test_a_second_concurrent_session_is_refused_and_the_first_goes_on(tenants):
    first = Box()
    first.session(inform())
    device = Device.objects.get()
    task = task_services.reboot(device, actor=tenants["noc"])
    assert first.send(inform(events=("6 CONNECTION REQUEST",))).status_code == 200
    before = device_state(device)
    second = Box()
    response = second.send(inform(events=("2 PERIODIC",), software_version="6.6.6"))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "cwmp_session" not in response.cookies or not response.cookies["cwmp_session"].value
    assert device_state(device) == before
    request = first.parsed(first.send(None))
    assert isinstance(request.message, m.Reboot)
    assert first.send(m.RebootResponse(), cwmp_id=request.cwmp_id).status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.DONE


def test_a_stale_session_does_not_block_the_device(tenants, settings):
    box = Box()
    box.send(inform())
    CwmpSession.objects.update(last_seen="2000-01-01T00:00:00Z")
    response = Box().send(inform(events=("2 PERIODIC",)))
    assert response.status_code == 200
    assert CwmpSession.objects.count() == 1


def test_a_dropped_connection_resumes_from_another_client_with_the_cookie(tenants):
    box = Box()
    box.session(inform())
    device = Device.objects.get()
    task_services.reboot(device, actor=tenants["noc"])
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    request = box.parsed(box.send(None))
    # The TCP connection drops; the box reconnects (a new client, maybe another web process).
    again = Client()
    again.cookies["cwmp_session"] = box.client.cookies["cwmp_session"].value
    resumed = Box(again)
    assert resumed.send(m.RebootResponse(), cwmp_id=request.cwmp_id).status_code == 204
    assert Task.objects.get().state == TaskState.DONE


def test_too_many_sessions_get_503_with_retry_after(tenants, settings):
    settings.CWMP_MAX_CONCURRENT_SESSIONS = 2
    settings.CWMP_RETRY_AFTER = 17
    for serial in ("A", "B"):
        assert Box().send(inform(serial=serial)).status_code == 200
    response = Box().send(inform(serial="C"))
    assert response.status_code == 503 and response["Retry-After"] == "17"
    assert not Device.objects.filter(serial_number="C").exists()


def test_get_is_not_allowed():
    response = Client().get("/cwmp")
    assert response.status_code == 405 and response["Allow"] == "POST"


@pytest.mark.django_db(transaction=True)
def test_simultaneous_informs_of_one_device_get_exactly_one_session(live_server, settings):
    """Real concurrency through the threaded live server: one new box Informs on 8 connections
    at once. Exactly one session is granted, the others get 503; one device row, one session."""
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite's shared-cache in-memory test database raises 'table is locked' instead of "
            "waiting; the portal's file database (WAL, BEGIN IMMEDIATE, busy timeout) serialises "
            "writers. Runs on PostgreSQL."
        )

    import requests

    from tests.acs.cpe import envelope

    body = envelope(inform(serial="RACE"))
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def fire():
        barrier.wait()
        statuses.append(requests.post(live_server.url + "/cwmp", data=body, timeout=60).status_code)

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [503] * 7
    assert Device.objects.filter(serial_number="RACE").count() == 1
    assert CwmpSession.objects.count() == 1
