"""Drive boxes through the ACS's own services (the functions the CWMP session engine calls)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from acs.cwmp import messages as m
from acs.models import Device, Task
from acs.services import tasks as task_services
from fus.rollouts import engine, services
from fus.rollouts.choices import Channel


def create(package, actor, **spec):
    spec.setdefault("name", "rollout")
    spec.setdefault("channels", [Channel.MANAGED.value])
    spec.setdefault("min_sample", 5)
    return services.create_rollout(package, spec, actor=actor)


def upgrade(task: Task, *, now: datetime, fault_code: int = 0) -> None:
    """The box takes the Download in a session, then reports TransferComplete: after rebooting
    into the new version (success), or with a fault."""
    device = task.device
    task_services.mark_sent(task.pk, session_token="s", now=now)
    fault = m.TransferFault(fault_code, "Download failure" if fault_code else "")
    if not fault_code:
        Device.objects.filter(pk=device.pk).update(software_version=task.expected_software_version)
        device.refresh_from_db()
    task_services.transfer_complete(
        device, m.TransferComplete(task.command_key, fault, now, now), now=now
    )


def open_downloads(rollout) -> list[Task]:
    return list(
        Task.objects.filter(
            package=rollout.package, state__in=("queued", "sent"), rpc="Download"
        ).select_related("device")
    )


class Clock:
    """Engine time, starting now, moved on by the test."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def tick(self, rollout, seconds: float = 10):
        self.now += timedelta(seconds=seconds)
        return engine.tick(rollout.pk, now=self.now)
