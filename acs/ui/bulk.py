"""Bulk actions on devices: reboot, refresh parameters, push firmware — on a selection, or on
everything a filter (or a saved search) matches.

Each device's task is queued by the same service as a single action (`acs.services.tasks`), in its
own transaction, audited per device. Bulk actions are rate-limited by queueing only: a selection
also asks each box for a session (connection request), a whole filter does not — its boxes run
the task at their next periodic Inform. Large filters run in the background (Celery task
`acs.ui.bulk`, queue `acs`), small ones in the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.http import QueryDict

from acs.cwmp import messages as m
from acs.models import Device, Task
from acs.services import tasks as task_services
from acs.ui.filtersets import DeviceFilterSet, narrowed
from fus.models import FirmwarePackage
from portal.permissions import can

log = logging.getLogger(__name__)

ACTIONS = {
    "reboot": "Reboot",
    "refresh": "Refresh parameters",
    "push_firmware": "Push firmware",
}
MAX_REPORTED = 10


def inline_limit() -> int:
    """Above this many devices, a filter-wide action runs in the background."""
    return int(getattr(settings, "ACS_UI_BULK_INLINE_MAX", 500))


@dataclass
class BulkResult:
    done: int = 0
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)

    def skip(self, device: Device, reason: str) -> None:
        self.skipped += 1
        if len(self.reasons) < MAX_REPORTED:
            self.reasons.append(f"{device}: {reason}")


def may_act(user) -> bool:
    """Whether `user` may queue tasks on some devices (the bulk and action buttons)."""
    return can(user, Device, "change") and can(user, Task, "add")


def actable(user):
    """The devices `user` may queue tasks on."""
    if not can(user, Task, "add"):
        return Device.objects.none()
    return narrowed(Device.objects.restrict(user, "change"), user)


class _Request:
    """What DeviceFilterSet needs of a request (its user) outside one (Celery)."""

    def __init__(self, user) -> None:
        self.user = user


def filtered(user, query: str):
    """The devices a list query string matches that `user` may act on (ValueError if invalid)."""
    data = QueryDict(query or "")
    filterset = DeviceFilterSet(data or None, queryset=actable(user), request=_Request(user))
    if filterset.is_bound and not filterset.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
        raise ValueError(f"The search is not valid: {problems}")
    return filterset.qs if filterset.is_bound else filterset.queryset


def run_one(action: str, device: Device, *, actor, kick: bool, package=None) -> Task:
    if action == "reboot":
        if kick:
            return task_services.reboot(device, actor=actor)
        return task_services.queue_task(
            device, m.Reboot(command_key="portal-reboot"), actor=actor, connection_request=False
        )
    if action == "refresh":
        if kick:
            return task_services.refresh_parameters(device, actor=actor)
        root = f"{device.root_object or 'Device'}."
        return task_services.queue_task(
            device, m.GetParameterNames(root, False), actor=actor, connection_request=False
        )
    if action == "push_firmware":
        if package is None:
            raise task_services.TaskError("choose a firmware package")
        return task_services.push_firmware(device, package, actor=actor, kick=kick)
    raise ValueError(f"unknown bulk action {action!r}")


def run(action: str, devices: Iterable[Device], *, actor, kick: bool, package=None) -> BulkResult:
    if action not in ACTIONS:
        raise ValueError(f"unknown bulk action {action!r}")
    result = BulkResult()
    for device in devices:
        try:
            run_one(action, device, actor=actor, kick=kick, package=package)
        except ValueError as exc:  # TaskError and the services' own refusals
            result.skip(device, str(exc))
        else:
            result.done += 1
    return result


def _chunks(queryset, size: int = 500):
    """Every row of `queryset` by primary key, `size` rows per query (no long-lived cursor
    while each device's task is committed)."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk")[:size])
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1].pk


def run_filter(user, action: str, query: str, *, package_id: int | None = None) -> BulkResult:
    """The action on every device of a filter, without connection requests (the Celery task's
    body, also run inline for small filters)."""
    package = None
    if action == "push_firmware":
        package = FirmwarePackage.objects.restrict(user, "view").filter(pk=package_id).first()
        if package is None:
            raise ValueError(f"firmware package {package_id} is not one you may use")
    devices = _chunks(filtered(user, query))
    result = run(action, devices, actor=user, kick=False, package=package)
    log.info(
        "bulk %s by %s on %r: %d queued, %d skipped",
        action,
        user,
        query,
        result.done,
        result.skipped,
    )
    return result
