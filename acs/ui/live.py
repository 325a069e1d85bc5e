"""Live device state: a change to a device's tasks, session or events is announced to the Channels
group ``device-<id>`` after the transaction commits; subscribers (`acs.ui.consumers`) then read a
fresh snapshot, restricted to their user, and the page updates itself.

The ACS services have no event hook, so this module listens to model signals: `post_save` of
`Task` and `DeviceEvent`, `post_save`/`post_delete` of `CwmpSession`. A task marked *sent* by a
queryset `update()` raises no signal, but it is always saved in the same transaction as its
session's state, whose `post_save` announces it. Announcements carry only the device id (the
snapshot is read by each subscriber with its own permissions), and one transaction announces each
device once, however many rows it wrote.

The in-memory channel layer reaches subscribers of the same process (CWMP sessions and operator
actions are served by the web process); worker-raised changes reach browsers through a shared
(Redis) layer, or through the page's polling fallback (`live.json`).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils import timezone

from acs.choices import TaskState
from acs.models import CwmpSession, Device, DeviceEvent, Task
from portal.live import after_commit, group_send

TASKS_SHOWN = 50
MESSAGE_TYPE = "device.changed"


def group_name(device_id: int) -> str:
    return f"device-{device_id}"


def announce(device_id: int | None) -> None:
    """Announce a change of `device_id` once the current transaction commits (now outside one)."""
    after_commit(send, device_id)


def send(device_id: int) -> bool:
    """Announce now; False when nobody can be listening (see `portal.live.group_send`)."""
    return bool(group_send([group_name(device_id)], {"type": MESSAGE_TYPE, "device": device_id}))


def _task_saved(sender, instance: Task, **kwargs) -> None:
    announce(instance.device_id)


def _event_saved(sender, instance: DeviceEvent, created: bool, **kwargs) -> None:
    if created:
        announce(instance.device_id)


def _session_changed(sender, instance: CwmpSession, **kwargs) -> None:
    announce(instance.device_id)


def connect_signals() -> None:
    post_save.connect(_task_saved, sender=Task, dispatch_uid="acs_ui_task_saved")
    post_save.connect(_event_saved, sender=DeviceEvent, dispatch_uid="acs_ui_event_saved")
    post_save.connect(_session_changed, sender=CwmpSession, dispatch_uid="acs_ui_session_saved")
    post_delete.connect(_session_changed, sender=CwmpSession, dispatch_uid="acs_ui_session_deleted")


# --- what subscribers receive ---------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def task_summary(task: Task) -> str:
    """One line saying what the task asks the box (names, values are not repeated)."""
    request = task.request or {}
    if task.rpc == "SetParameterValues":
        names = [p.get("name", "?") for p in request.get("parameters", ())]
        return ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
    if task.rpc in ("AddObject", "DeleteObject"):
        return str(request.get("object_name", ""))
    if task.rpc == "GetParameterNames":
        return str(request.get("parameter_path", ""))
    if task.rpc == "GetParameterValues":
        names = request.get("names", ())
        return f"{len(names)} parameter(s)"
    if task.rpc == "Download":
        version = task.expected_software_version
        return f"firmware {version}" if version else str(request.get("url", ""))
    return ""


def task_row(task: Task) -> dict:
    return {
        "id": task.pk,
        "rpc": task.rpc,
        "summary": task_summary(task),
        "state": task.state,
        "state_label": TaskState(task.state).label,
        "created": _iso(task.created),
        "sent": _iso(task.sent),
        "completed": _iso(task.completed),
        "attempts": task.attempts,
        "fault_code": task.fault_code,
        "fault_string": task.fault_string,
        "reason": task.reason,
        "open": task.is_open,
    }


def snapshot(device_id: int, user) -> dict | None:
    """What the device page shows live, as `user` may see it (None: not theirs to see)."""
    device = Device.objects.restrict(user, "view").filter(pk=device_id).first()
    if device is None:
        return None
    tasks = Task.objects.restrict(user, "view").filter(device=device).order_by("-pk")[:TASKS_SHOWN]
    return {
        "device": {
            "id": device.pk,
            "software_version": device.software_version,
            "last_inform": _iso(device.last_inform),
            "online": device.is_online,
            "in_session": CwmpSession.objects.filter(device=device).exists(),
        },
        "tasks": [task_row(t) for t in tasks],
        "at": timezone.now().isoformat(),
        "poll_url": reverse("devices:live", args=[device.pk]),
    }
