"""Download tasks: push_firmware, TransferComplete (with and without fault), the SoftwareVersion
check after the upgrade, AutonomousTransferComplete, RequestDownload answered from the targeting
engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acs.choices import DeviceEventKind, TaskRpc, TaskState
from acs.cwmp import messages as m
from acs.models import Device, DeviceEvent, Task
from acs.services import tasks as task_services
from acs.services.firmware import FIRMWARE_FILE_TYPE, firmware_url
from fus.services import catalogue
from tests.acs.cpe import Box, inform
from tests.factories import make_package

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _open_acs(settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.FUS_DOWNLOAD_BASE_URL = "https://fus.example.net/firmware/"


@pytest.fixture
def approved(tenants):
    package = make_package(tenants["dc_a"], "2.0.0", actor=tenants["noc"])
    return catalogue.approve_firmware(package, actor=tenants["noc"])


@pytest.fixture
def box(tenants):
    box = Box()
    box.session(inform(software_version="1.0.0"))
    return box


def download_session(box: Box, task: Task) -> m.Download:
    box.send(inform(events=("6 CONNECTION REQUEST",)))
    request = box.parsed(box.send(None))
    assert isinstance(request.message, m.Download)
    assert box.send(m.DownloadResponse(1), cwmp_id=request.cwmp_id).status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.SENT
    return request.message


def after_upgrade(box: Box, task: Task, version: str, fault: m.TransferFault | None = None):
    """The box reboots into `version` and reports the transfer in its next session."""
    box.send(
        inform(
            software_version=version,
            events=("1 BOOT", "7 TRANSFER COMPLETE", "M Download"),
            command_keys={"M Download": task.command_key},
        )
    )
    answer = box.parsed(
        box.send(
            m.TransferComplete(task.command_key, fault or m.TransferFault(), T0, T0),
            cwmp_id="tc1",
        )
    )
    assert isinstance(answer.message, m.TransferCompleteResponse) and answer.cwmp_id == "tc1"
    assert box.send(None).status_code == 204
    task.refresh_from_db()


def test_push_firmware_sends_a_download_of_the_package_file(box, approved, tenants):
    device = Device.objects.get()
    task = task_services.push_firmware(device, approved, actor=tenants["noc"])
    assert task.command_key == f"task-{task.pk}" and task.expected_software_version == "2.0.0"
    download = download_session(box, task)
    file = approved.files.get()
    assert download.command_key == task.command_key
    assert download.file_type == FIRMWARE_FILE_TYPE
    assert download.url == firmware_url(file)
    assert download.url.startswith("https://fus.example.net/firmware/")
    assert download.url.endswith("/" + file.file_name)
    assert (download.file_size, download.target_file_name) == (file.size, file.file_name)


def test_transfer_complete_and_the_new_version_finish_the_task(box, approved, tenants):
    task = task_services.push_firmware(Device.objects.get(), approved, actor=tenants["noc"])
    download_session(box, task)
    after_upgrade(box, task, "2.0.0")
    assert task.state == TaskState.DONE and task.transfer_completed is not None


def test_transfer_complete_with_a_fault_fails_the_task(box, approved, tenants):
    task = task_services.push_firmware(Device.objects.get(), approved, actor=tenants["noc"])
    download_session(box, task)
    after_upgrade(box, task, "1.0.0", m.TransferFault(9010, "Download failure: checksum"))
    assert task.state == TaskState.FAULT
    assert (task.fault_code, task.fault_string) == (9010, "Download failure: checksum")


def test_a_wrong_version_after_the_upgrade_fails_the_task_with_the_reason(box, approved, tenants):
    task = task_services.push_firmware(Device.objects.get(), approved, actor=tenants["noc"])
    download_session(box, task)
    after_upgrade(box, task, "1.0.0")  # TransferComplete OK, but still the old version
    assert task.state == TaskState.SENT  # maybe the box reports before rebooting: next Inform
    box.session(inform(software_version="1.0.0", events=("1 BOOT",)))
    task.refresh_from_db()
    assert task.state == TaskState.FAULT
    assert task.reason == (
        "the box reports SoftwareVersion '1.0.0' after the upgrade, expected '2.0.0'"
    )


def test_the_version_may_arrive_with_the_next_inform(box, approved, tenants):
    task = task_services.push_firmware(Device.objects.get(), approved, actor=tenants["noc"])
    download_session(box, task)
    after_upgrade(box, task, "1.0.0")
    box.session(inform(software_version="2.0.0", events=("1 BOOT",)))
    task.refresh_from_db()
    assert task.state == TaskState.DONE


def test_autonomous_transfer_complete_is_recorded_and_closes_the_open_download(
    box, approved, tenants
):
    task = task_services.push_firmware(Device.objects.get(), approved, actor=tenants["noc"])
    box.send(inform(software_version="2.0.0", events=("10 AUTONOMOUS TRANSFER COMPLETE",)))
    atc = m.AutonomousTransferComplete(
        announce_url="",
        transfer_url="http://fus.example.net/fw.bin",
        is_download=True,
        file_type=FIRMWARE_FILE_TYPE,
        file_size=5004,
        target_file_name="image.bin",
        fault=m.TransferFault(),
        start_time=T0,
        complete_time=T0,
    )
    answer = box.parsed(box.send(atc, cwmp_id="a1"))
    assert isinstance(answer.message, m.AutonomousTransferCompleteResponse)
    assert box.send(None).status_code == 204
    task.refresh_from_db()
    assert task.state == TaskState.DONE and task.reason == "done by an autonomous transfer"
    event = DeviceEvent.objects.filter(kind=DeviceEventKind.TRANSFER).get()
    assert "success" in event.message


def test_request_download_queues_the_applicable_package(box, approved):
    answer = box.parsed(box.send(inform(events=("2 PERIODIC",))))
    assert isinstance(answer.message, m.InformResponse)
    answer = box.parsed(box.send(m.RequestDownload(FIRMWARE_FILE_TYPE), cwmp_id="r1"))
    assert isinstance(answer.message, m.RequestDownloadResponse)
    request = box.parsed(box.send(None))  # the Download goes out in this very session
    assert isinstance(request.message, m.Download)
    task = Task.objects.get(rpc=TaskRpc.DOWNLOAD)
    assert task.package == approved and request.message.command_key == task.command_key


def test_request_download_without_an_applicable_package_queues_nothing(tenants):
    box = Box()
    box.send(inform(software_version="1.0.0"))
    answer = box.parsed(box.send(m.RequestDownload(FIRMWARE_FILE_TYPE), cwmp_id="r1"))
    assert isinstance(answer.message, m.RequestDownloadResponse)
    assert box.send(None).status_code == 204
    assert not Task.objects.exists()
    assert DeviceEvent.objects.filter(kind=DeviceEventKind.REQUEST_DOWNLOAD).exists()


def test_push_firmware_refuses_what_does_not_apply(box, approved, tenants):
    device = Device.objects.get()
    other = make_package(tenants["dc_b"], "3.0.0", actor=tenants["noc"])
    with pytest.raises(task_services.TaskError, match="not approved"):
        task_services.push_firmware(device, other, actor=tenants["noc"])
    other = catalogue.approve_firmware(other, actor=tenants["noc"])
    with pytest.raises(task_services.TaskError, match="does not target"):
        task_services.push_firmware(device, other, actor=tenants["noc"])
    task_services.push_firmware(device, approved, actor=tenants["noc"])
    with pytest.raises(task_services.TaskError, match="already has an open Download"):
        task_services.push_firmware(device, approved, actor=tenants["noc"])
    assert Task.objects.count() == 1
