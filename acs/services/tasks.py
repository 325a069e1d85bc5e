"""The per-device task queue: operator actions become ACS RPCs sent in the box's next session.

Operator-facing functions (`queue_task`, `cancel_task`, `retry_task`, `refresh_parameters`,
`set_parameter_values`, `reboot`, `factory_reset`, `schedule_inform`, `add_object`,
`delete_object`, `push_firmware`) run in a transaction, write an audit event and ask the box for a
session (connection request, on commit). The session engine (`acs.services.cwmp`) calls the
`mark_*`/`complete_*` functions, which are recorded as device events instead (a fleet produces
millions of them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from acs.choices import AcsAuditKind, DeviceEventKind, TaskRpc, TaskState
from acs.conf import acs_settings
from acs.cwmp import messages as m
from acs.cwmp.faults import FaultCode
from acs.models import Device, Task
from acs.services import devices as device_services
from acs.services.firmware import FIRMWARE_FILE_TYPE, firmware_url, package_file
from fus.choices import FirmwareStatus
from fus.models import FirmwarePackage
from portal.audit import record_event

#: CPE faults after which a task is tried again (with backoff) rather than failed for good.
RETRYABLE_FAULTS = frozenset({FaultCode.INTERNAL_ERROR, FaultCode.RESOURCES_EXCEEDED})
GPV_CHUNK = 200
MASKED = "********"


class TaskError(ValueError):
    """A task action that does not apply (wrong state, wrong package, ...); the text says why."""


def _rpc_name(message: m.AcsRequest) -> str:
    name = type(message).__name__
    if name not in TaskRpc.values:
        raise TaskError(f"{name} is not an ACS RPC")
    return name


def _kick(device: Device) -> None:
    if device.connection_request_url or device.udp_connection_request_address:
        from acs.tasks import connection_request

        transaction.on_commit(lambda: connection_request.delay(device_id=device.pk))


def _create(
    device: Device,
    message: m.AcsRequest,
    *,
    actor,
    expires: datetime | None = None,
    max_attempts: int = 3,
    audit: bool = True,
    kick: bool = True,
    **fields: Any,
) -> Task:
    task = Task.objects.create(
        device=device,
        rpc=_rpc_name(message),
        request=m.to_dict(message),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        expires=expires,
        max_attempts=max_attempts,
        **fields,
    )
    if audit:
        record_event(
            AcsAuditKind.TASK_QUEUED,
            obj=device,
            actor=actor,
            message=f"{task.rpc} queued for {device}",
            details={"task": task.pk, "rpc": task.rpc},
        )
    if kick:
        _kick(device)
    return task


@transaction.atomic
def queue_task(
    device: Device,
    rpc: m.AcsRequest,
    *,
    actor,
    expires: datetime | None = None,
    max_attempts: int = 3,
    connection_request: bool = True,
) -> Task:
    """Queue any ACS RPC of `acs.cwmp.messages` for the box's next session (in queue order)."""
    if isinstance(rpc, m.Download):
        raise TaskError("Download tasks are queued with push_firmware (they need a package)")
    return _create(
        device,
        rpc,
        actor=actor,
        expires=expires,
        max_attempts=max_attempts,
        kick=connection_request,
    )


@transaction.atomic
def cancel_task(task: Task, *, actor) -> Task:
    """Withdraw a queued task (expired, reason "cancelled"); a sent RPC cannot be called back."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.state != TaskState.QUEUED:
        raise TaskError(f"Only queued tasks can be cancelled; task {task.pk} is {task.state}.")
    task.state = TaskState.EXPIRED
    task.reason = "cancelled"
    task.completed = timezone.now()
    task.save(update_fields=["state", "reason", "completed", "updated"])
    record_event(
        AcsAuditKind.TASK_CANCELLED,
        obj=task.device,
        actor=actor,
        message=f"{task.rpc} #{task.pk} cancelled",
        details={"task": task.pk},
    )
    return task


@transaction.atomic
def retry_task(task: Task, *, actor) -> Task:
    """Queue a failed or expired task again, as a new task with the same request."""
    if task.state not in (TaskState.FAULT, TaskState.EXPIRED):
        raise TaskError(
            f"Only failed or expired tasks can be retried; task {task.pk} is {task.state}."
        )
    if task.rpc == TaskRpc.DOWNLOAD and task.package is not None:
        return push_firmware(task.device, task.package, actor=actor)
    message = m.from_dict(task.request)
    new = _create(task.device, message, actor=actor, audit=False, max_attempts=task.max_attempts)
    record_event(
        AcsAuditKind.TASK_RETRIED,
        obj=task.device,
        actor=actor,
        message=f"{task.rpc} #{task.pk} queued again as #{new.pk}",
        details={"task": new.pk, "previous": task.pk},
    )
    return new


def refresh_parameters(device: Device, *, actor, path: str | None = None) -> Task:
    """Re-read the parameter tree below `path` (default: the whole tree): GetParameterNames, then
    GetParameterValues of the leaves it names, queued in the same session when the names arrive."""
    root = path or f"{device.root_object or 'Device'}."
    return queue_task(device, m.GetParameterNames(root, False), actor=actor)


def set_parameter_values(
    device: Device, values: dict[str, Any], *, actor, parameter_key: str = ""
) -> Task:
    """SetParameterValues; a value is a `TypedValue` or a Python value (`TypedValue.of`)."""
    if not values:
        raise TaskError("no parameter to set")
    params = []
    for name, value in values.items():
        if not name or name.endswith("."):
            raise TaskError(f"{name!r} is not a parameter name (an object path ends with '.')")
        typed = value if isinstance(value, m.TypedValue) else m.TypedValue.of(value)
        params.append(m.ParameterValue(name, typed))
    return queue_task(
        device, m.SetParameterValues(tuple(params), parameter_key=parameter_key), actor=actor
    )


def reboot(device: Device, *, actor) -> Task:
    return queue_task(device, m.Reboot(command_key="portal-reboot"), actor=actor)


def factory_reset(device: Device, *, actor) -> Task:
    return queue_task(device, m.FactoryReset(), actor=actor)


def schedule_inform(device: Device, *, actor, delay_seconds: int = 0) -> Task:
    if delay_seconds < 0:
        raise TaskError(f"delay_seconds {delay_seconds} is negative")
    return queue_task(device, m.ScheduleInform(delay_seconds), actor=actor)


def add_object(device: Device, object_name: str, *, actor) -> Task:
    if not object_name.endswith("."):
        raise TaskError(f"{object_name!r} is not an object path (it must end with '.')")
    return queue_task(device, m.AddObject(object_name), actor=actor)


def delete_object(device: Device, object_name: str, *, actor) -> Task:
    if not object_name.endswith("."):
        raise TaskError(f"{object_name!r} is not an object instance path (it must end with '.')")
    return queue_task(device, m.DeleteObject(object_name), actor=actor)


@transaction.atomic
def push_firmware(
    device: Device, package: FirmwarePackage, *, actor, audit: bool = True, kick: bool = True
) -> Task:
    """A Download of `package`'s image; done when the box reports TransferComplete and then the
    package's SoftwareVersion."""
    if package.status != FirmwareStatus.APPROVED:
        raise TaskError(f"Package {package} is {package.status}, not approved.")
    if (
        device.device_class_id is None
        or not package.targets.filter(device_class_id=device.device_class_id).exists()
    ):
        raise TaskError(f"Package {package} does not target the device class of {device}.")
    open_download = device.tasks.filter(
        rpc=TaskRpc.DOWNLOAD, state__in=(TaskState.QUEUED, TaskState.SENT)
    ).first()
    if open_download is not None:
        raise TaskError(f"Device {device} already has an open Download (task {open_download.pk}).")
    file = package_file(package)
    placeholder = m.Download(command_key="", file_type=FIRMWARE_FILE_TYPE, url=firmware_url(file))
    task = _create(
        device,
        placeholder,
        actor=actor,
        audit=audit,
        kick=kick,
        package=package,
        firmware_file=file,
        expected_software_version=package.software_version,
    )
    task.command_key = f"task-{task.pk}"
    task.request = m.to_dict(
        m.Download(
            command_key=task.command_key,
            file_type=FIRMWARE_FILE_TYPE,
            url=firmware_url(file),
            file_size=file.size,
            target_file_name=file.file_name,
        )
    )
    task.save(update_fields=["command_key", "request"])
    return task


# --- called by the session engine (inside its transaction, device row locked) ---------------------


def next_task(device: Device, *, now: datetime) -> Task | None:
    """The first queued task that may be sent now, expiring the overdue ones met on the way (one
    query in the common case: the head of the device's queue)."""
    overdue: list[int] = []
    found = None
    for task in Task.objects.filter(device=device, state=TaskState.QUEUED).order_by("pk")[:50]:
        if task.expires is not None and task.expires <= now:
            overdue.append(task.pk)
        elif task.not_before is None or task.not_before <= now:
            found = task
            break
    if overdue:
        Task.objects.filter(pk__in=overdue).update(
            state=TaskState.EXPIRED, reason="expired before it could be sent", completed=now
        )
    return found


def queue_follow_up(device: Device, message: m.AcsRequest) -> Task:
    """A task the ACS queues itself as the consequence of another (no audit, no kick)."""
    return _create(device, message, actor=None, audit=False, kick=False)


def task_message(task: Task) -> m.AcsRequest:
    return m.from_dict(task.request)


def mark_sent(task_id: int, *, session_token: str, now: datetime) -> None:
    Task.objects.filter(pk=task_id).update(
        state=TaskState.SENT, sent=now, attempts=F("attempts") + 1, session_token=session_token
    )


def _finish(task: Task, state: str, *, now: datetime, reason: str = "", **fields) -> None:
    task.state = state
    task.completed = now
    task.reason = reason[:500]
    for name, value in fields.items():
        setattr(task, name, value)
    task.save()
    device_services.record_device_event(
        task.device,
        DeviceEventKind.TASK,
        f"{task.rpc} #{task.pk}: {state}" + (f" ({reason})" if reason else ""),
        task=task.pk,
        state=state,
    )


def _backoff(task: Task) -> timedelta:
    return timedelta(seconds=acs_settings().task_retry_base * 2 ** max(0, task.attempts - 1))


def abandon(task_id: int, reason: str, *, now: datetime) -> None:
    """The RPC got no usable answer: queue it again after a backoff, or fail it for good."""
    task = Task.objects.select_related("device").filter(pk=task_id).first()
    if task is None or task.state != TaskState.SENT:
        return
    if task.attempts < task.max_attempts:
        task.state = TaskState.QUEUED
        task.not_before = now + _backoff(task)
        task.reason = f"attempt {task.attempts} abandoned: {reason}"[:500]
        task.save(update_fields=["state", "not_before", "reason", "updated"])
        return
    _finish(
        task, TaskState.FAULT, now=now, reason=f"no answer after {task.attempts} attempts: {reason}"
    )


def fault(task_id: int, fault: m.Fault, *, now: datetime) -> None:
    task = Task.objects.select_related("device").filter(pk=task_id).first()
    if task is None:
        return
    details = {
        "set_parameter_values_faults": [
            {"name": f.parameter_name, "code": f.fault_code, "text": f.fault_string}
            for f in fault.set_parameter_values_faults
        ]
    }
    if fault.fault_code in RETRYABLE_FAULTS and task.attempts < task.max_attempts:
        task.state = TaskState.QUEUED
        task.not_before = now + _backoff(task)
        task.fault_code = fault.fault_code
        task.fault_string = fault.fault_string[:2000]
        task.reason = f"fault {fault.fault_code}, to be retried"
        task.save()
        return
    _clear_pending_credentials(task)
    _finish(
        task,
        TaskState.FAULT,
        now=now,
        reason=f"fault {fault.fault_code}: {fault.fault_string}",
        fault_code=fault.fault_code,
        fault_string=fault.fault_string[:2000],
        result=details,
    )


def complete(task_id: int, response: m.CpeResponse, *, now: datetime) -> list[m.AcsRequest]:
    """Record the box's answer. Returns follow-up requests to queue (GetParameterValues after a
    GetParameterNames of a refresh)."""
    task = Task.objects.select_related("device").filter(pk=task_id).first()
    if task is None:
        return []
    device = task.device
    request = task_message(task)
    result: dict[str, Any] = {}
    follow: list[m.AcsRequest] = []
    if isinstance(response, m.GetParameterNamesResponse):
        assert isinstance(request, m.GetParameterNames)
        names = {p.name: (None, None, p.writable) for p in response.parameters}
        device_services.merge_parameters(
            device,
            names,
            now=now,
            prune_prefix=request.parameter_path if not request.next_level else None,
        )
        leaves = sorted(name for name in names if not name.endswith("."))
        result = {"names": len(names), "leaves": len(leaves)}
        for start in range(0, len(leaves), GPV_CHUNK):
            follow.append(m.GetParameterValues(tuple(leaves[start : start + GPV_CHUNK])))
    elif isinstance(response, m.GetParameterValuesResponse):
        device_services.merge_parameters(
            device,
            {p.name: (p.value.text, str(p.value.type), None) for p in response.parameters},
            now=now,
            full_refresh=True,
        )
        result = {"values": len(response.parameters)}
    elif isinstance(response, m.SetParameterValuesResponse):
        assert isinstance(request, m.SetParameterValues)
        device_services.merge_parameters(
            device,
            {
                # a box reads passwords back as empty strings (TR-069 A.3.2.1): so does our tree
                p.name: ("" if _is_password(p.name) else p.value.text, str(p.value.type), None)
                for p in request.parameters
            },
            now=now,
        )
        result = {"status": response.status}
        _activate_pending_credentials(task)
        _keep_connection_request_credentials(task, request)
    elif isinstance(response, m.AddObjectResponse):
        result = {"instance_number": response.instance_number, "status": response.status}
    elif isinstance(response, m.DeleteObjectResponse):
        assert isinstance(request, m.DeleteObject)
        result = {"status": response.status}
        params = getattr(device, "parameters", None)
        if params is not None:
            params.tree = {
                k: v for k, v in params.tree.items() if not k.startswith(request.object_name)
            }
            params.save(update_fields=["tree", "updated"])
    elif isinstance(response, m.DownloadResponse):
        result = {"status": response.status}
        if response.status == 0:  # already applied: check the version in the next Inform
            task.transfer_completed = now
            task.result = result
            task.save(update_fields=["transfer_completed", "result", "updated"])
            _await_version_check(device)
            return []
        task.result = result
        task.save(update_fields=["result", "updated"])
        return []  # stays sent until TransferComplete
    else:
        result = m.to_dict(response)
    _finish(task, TaskState.DONE, now=now, result=result)
    return follow


# --- provisioning per-device credentials (bootstrap) ------------------------------------------------


def provision_credentials(device: Device, *, now: datetime) -> Task | None:
    """After first contact with the bootstrap credentials: give the box its own (random password,
    stored as HA1 only) with SetParameterValues of ManagementServer.Username/Password; they become
    the device's credentials when the box accepts them."""
    if device.pending_credentials.get("task"):
        pending = Task.objects.filter(
            pk=device.pending_credentials["task"], state__in=(TaskState.QUEUED, TaskState.SENT)
        ).first()
        if pending is not None:
            return None
    username = device_services.default_username(device)
    password = device_services.new_password()
    root = device.root_object or "Device"
    message = m.SetParameterValues(
        (
            m.ParameterValue(f"{root}.ManagementServer.Username", m.TypedValue(username)),
            m.ParameterValue(f"{root}.ManagementServer.Password", m.TypedValue(password)),
        ),
        parameter_key="acs-credentials",
    )
    task = _create(device, message, actor=None, audit=False, kick=False, max_attempts=5)
    columns = device_services.credential_columns(username, password)
    device.pending_credentials = {**columns, "task": task.pk}
    device.pending_username = username
    device.save(update_fields=["pending_credentials", "pending_username", "updated"])
    return task


def _is_password(path: str) -> bool:
    return path.rsplit(".", 1)[-1].endswith("Password")


#: ParameterKey of the SetParameterValues that gives a box connection-request credentials.
CR_CREDENTIALS_KEY = "acs-cr-credentials"


def provision_connection_request_credentials(device: Device, *, now: datetime) -> Task | None:
    """A box the ACS could not wake: it reports a ConnectionRequestURL, but no credentials to
    answer its challenge with are known (none imported with `set_connection_request_credentials`).
    Give it some, as the ACS gives its own: SetParameterValues of
    ManagementServer.ConnectionRequestUsername/Password (queued once; sent in this session).
    They are kept for connection requests when the box accepts them. Off with
    `CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS=false` (boxes with factory credentials the
    operator imports). Costs nothing for a box whose credentials are known."""
    if device.connection_request_username or not device.connection_request_url:
        return None
    if not acs_settings().provision_connection_request_credentials:
        return None
    # Once queued, or once refused by the box (a fault that is not retried): a box that denies
    # the values is not asked again at every session; the operator imports its credentials.
    earlier = Task.objects.filter(
        device=device,
        rpc=TaskRpc.SET_PARAMETER_VALUES,
        state__in=(TaskState.QUEUED, TaskState.SENT, TaskState.FAULT),
        request__parameter_key=CR_CREDENTIALS_KEY,
    )
    if earlier.exists():
        return None
    root = device.root_object or "Device"
    message = m.SetParameterValues(
        (
            m.ParameterValue(
                f"{root}.ManagementServer.ConnectionRequestUsername",
                m.TypedValue(f"cr-{device.serial_number}"[:256]),
            ),
            m.ParameterValue(
                f"{root}.ManagementServer.ConnectionRequestPassword",
                m.TypedValue(device_services.new_password()),
            ),
        ),
        parameter_key=CR_CREDENTIALS_KEY,
    )
    return _create(device, message, actor=None, audit=False, kick=False, max_attempts=5)


def _keep_connection_request_credentials(task: Task, request: m.SetParameterValues) -> None:
    if request.parameter_key != CR_CREDENTIALS_KEY:
        return
    values = {p.name.rsplit(".", 1)[-1]: p.value.text for p in request.parameters}
    username = values.get("ConnectionRequestUsername", "")
    password = values.get("ConnectionRequestPassword", "")
    if not username or not password:
        return
    device = task.device
    Device.objects.filter(pk=device.pk).update(
        connection_request_username=username, connection_request_password=password
    )
    device.connection_request_username = username
    device.connection_request_password = password
    # The password is kept on the device row only (connection requests need it in clear).
    masked = tuple(
        m.ParameterValue(p.name, m.TypedValue(MASKED)) if _is_password(p.name) else p
        for p in request.parameters
    )
    task.request = m.to_dict(m.SetParameterValues(masked, request.parameter_key))
    task.save(update_fields=["request", "updated"])
    device_services.record_device_event(
        device,
        DeviceEventKind.CREDENTIALS,
        f"Connection request credentials set by the ACS (user {username}).",
    )


def _activate_pending_credentials(task: Task) -> None:
    device = task.device
    pending = device.pending_credentials
    if not pending or pending.get("task") != task.pk:
        return
    for name in ("cwmp_username", "cwmp_ha1_md5", "cwmp_ha1_sha256", "cwmp_realm"):
        setattr(device, name, pending[name])
    device.pending_credentials = {}
    device.pending_username = ""
    device.save()
    # The password must not outlive its delivery: mask it in the stored request.
    request = task_message(task)
    assert isinstance(request, m.SetParameterValues)
    masked = tuple(
        m.ParameterValue(p.name, m.TypedValue(MASKED)) if p.name.endswith(".Password") else p
        for p in request.parameters
    )
    task.request = m.to_dict(m.SetParameterValues(masked, request.parameter_key))
    task.save(update_fields=["request", "updated"])
    device_services.record_device_event(
        device, DeviceEventKind.CREDENTIALS, f"Own ACS credentials active ({device.cwmp_username})."
    )


def _clear_pending_credentials(task: Task) -> None:
    device = task.device
    if device.pending_credentials.get("task") == task.pk:
        device.pending_credentials = {}
        device.pending_username = ""
        device.save(update_fields=["pending_credentials", "pending_username", "updated"])


# --- transfers --------------------------------------------------------------------------------------


def transfer_complete(device: Device, message: m.TransferComplete, *, now: datetime) -> None:
    """A box's TransferComplete: the Download task with that CommandKey succeeds (then awaits the
    version check) or fails with the box's fault."""
    task = (
        Task.objects.select_related("device")
        .filter(device=device, rpc=TaskRpc.DOWNLOAD, command_key=message.command_key)
        .exclude(command_key="")
        .first()
    )
    code = message.fault.fault_code
    if task is None:
        device_services.record_device_event(
            device,
            DeviceEventKind.TRANSFER,
            f"TransferComplete for unknown CommandKey {message.command_key!r} (fault {code})",
            fault_code=code,
        )
        return
    if task.state not in (TaskState.SENT, TaskState.QUEUED):
        return  # a repeated TransferComplete (the box did not see our answer): already recorded
    if code:
        _finish(
            task,
            TaskState.FAULT,
            now=now,
            reason=f"transfer failed: fault {code}: {message.fault.fault_string}",
            fault_code=code,
            fault_string=message.fault.fault_string[:2000],
        )
        return
    task.transfer_completed = now
    task.result = {
        **task.result,
        "start_time": message.start_time.isoformat() if message.start_time else None,
        "complete_time": message.complete_time.isoformat() if message.complete_time else None,
    }
    task.save(update_fields=["transfer_completed", "result", "updated"])
    _await_version_check(device)
    check_software_version(device, now=now, final=False)


def _await_version_check(device: Device) -> None:
    device.awaiting_version_check = True
    Device.objects.filter(pk=device.pk).update(awaiting_version_check=True)


def check_software_version(device: Device, *, now: datetime, final: bool = True) -> None:
    """Download tasks whose transfer completed: done when the box reports the package's
    SoftwareVersion; with `final` (the next session's Inform), a mismatch fails the task. Costs
    no query unless a transfer completed (`Device.awaiting_version_check`)."""
    if not device.awaiting_version_check:
        return
    waiting = Task.objects.select_related("device").filter(
        device=device, rpc=TaskRpc.DOWNLOAD, state=TaskState.SENT, transfer_completed__isnull=False
    )
    remaining = 0
    for task in waiting:
        if not final and task.transfer_completed != now:
            remaining += 1
            continue
        if device.software_version == task.expected_software_version:
            _finish(task, TaskState.DONE, now=now)
        elif not final:
            remaining += 1
        else:
            _finish(
                task,
                TaskState.FAULT,
                now=now,
                reason=(
                    f"the box reports SoftwareVersion {device.software_version!r} after the "
                    f"upgrade, expected {task.expected_software_version!r}"
                ),
            )
    if not remaining:
        device.awaiting_version_check = False
        Device.objects.filter(pk=device.pk).update(awaiting_version_check=False)


def autonomous_transfer_complete(
    device: Device, message: m.AutonomousTransferComplete, *, now: datetime
) -> None:
    """An upgrade the box made on its own (RMS-FUS usage model): recorded; an open Download of the
    version the box now runs is done."""
    code = message.fault.fault_code
    device_services.record_device_event(
        device,
        DeviceEventKind.TRANSFER,
        (
            f"AutonomousTransferComplete {message.file_type} from {message.transfer_url}: "
            + (f"fault {code} {message.fault.fault_string}" if code else "success")
        ),
        fault_code=code,
        url=message.transfer_url,
        file_type=message.file_type,
    )
    if code or not message.is_download:
        return
    for task in Task.objects.select_related("device").filter(
        device=device,
        rpc=TaskRpc.DOWNLOAD,
        state__in=(TaskState.QUEUED, TaskState.SENT),
        expected_software_version=device.software_version,
    ):
        _finish(task, TaskState.DONE, now=now, reason="done by an autonomous transfer")


def request_download(device: Device, message: m.RequestDownload, *, now: datetime) -> Task | None:
    """A box asks for a file: for firmware, queue a Download of the best applicable package."""
    from acs.services.firmware import applicable_packages

    device_services.record_device_event(
        device,
        DeviceEventKind.REQUEST_DOWNLOAD,
        f"RequestDownload {message.file_type}",
        args={a.name: a.value for a in message.file_type_args},
    )
    if message.file_type != FIRMWARE_FILE_TYPE:
        return None
    for package in applicable_packages(device, at=now):
        if package.software_version == device.software_version:
            continue
        try:
            return push_firmware(device, package, actor=None, audit=False, kick=False)
        except TaskError as exc:
            device_services.record_device_event(
                device, DeviceEventKind.REQUEST_DOWNLOAD, f"No Download queued: {exc}"
            )
            return None
    return None
