"""Live compliance: a change of a device's `Compliance` row is announced, after its transaction
commits, to the Channels groups ``homenet-compliance`` (the dashboard) and ``homenet-device-<id>``
(the device's home-network page); subscribers (`acs.homenet.consumers`) read a fresh snapshot
restricted to their user and the page updates itself without reload.

As `acs.ui.live` (the device pages) does: model signals are the hook (`post_save`/`post_delete`
of `Compliance`; the save of ``last_inform`` alone, once per Inform, is no change of compliance),
one announcement per device per transaction, carrying only the device id, and none at all when the
in-memory layer has no subscriber (a fleet's sessions then cost no trip through the event loop).
The in-memory layer reaches subscribers of the same process (CWMP sessions and operator actions
are served by the web process); changes made by workers reach browsers through a shared (Redis)
layer or the pages' polling fallback (``live.json``).
"""

from __future__ import annotations

from django.db.models import Count
from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils import timezone

from acs.homenet.choices import ComplianceState
from acs.homenet.models import Compliance
from acs.models import Device
from portal.live import after_commit, group_send
from portal.permissions import can

DASHBOARD_GROUP = "homenet-compliance"
MESSAGE_TYPE = "compliance.changed"
CHANGES_SHOWN = 3


def device_group(device_id: int) -> str:
    return f"homenet-device-{device_id}"


def announce(device_id: int | None) -> None:
    """Announce a compliance change once the current transaction commits (now outside one)."""
    after_commit(send, device_id)


def send(device_id: int) -> int:
    """Announce now to the dashboard and the device's page; the number of groups told."""
    message = {"type": MESSAGE_TYPE, "device": device_id}
    return group_send((DASHBOARD_GROUP, device_group(device_id)), message)


def _compliance_saved(sender, instance: Compliance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_inform"}:
        return
    announce(instance.device_id)


def _compliance_deleted(sender, instance: Compliance, **kwargs) -> None:
    announce(instance.device_id)


def connect_signals() -> None:
    post_save.connect(_compliance_saved, sender=Compliance, dispatch_uid="homenet_live_saved")
    post_delete.connect(_compliance_deleted, sender=Compliance, dispatch_uid="homenet_live_deleted")


# --- what subscribers receive ---------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def reasons(c: Compliance) -> list[str]:
    """Why a device is where it is, one line each: the fault, conflicts, problems, the first
    changes (as the dashboard shows them)."""
    lines = []
    if c.fault_code or c.fault_string:
        lines.append(f"fault {c.fault_code or ''}: {c.fault_string}".replace("fault :", "fault:"))
    lines += [x.get("text", "") for x in c.conflicts]
    lines += [f"{p.get('profile')}: {p.get('message')}" for p in c.problems]
    lines += list(c.changes[:CHANGES_SHOWN])
    return lines


def compliance_row(c: Compliance) -> dict:
    return {
        "device": c.device_id,
        "device_label": str(c.device),
        "url": reverse("homenet:device", args=[c.device_id]),
        "state": c.state,
        "state_label": ComplianceState(c.state).label,
        "profiles": list(c.profiles),
        "reasons": reasons(c),
        "evaluated": _iso(c.evaluated),
    }


def _visible(user):
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not can(user, Compliance, "view"):
        return None
    return Compliance.objects.restrict(user, "view")


def counts(user) -> dict[str, int] | None:
    rows = _visible(user)
    if rows is None:
        return None
    found = {r["state"]: r["n"] for r in rows.values("state").annotate(n=Count("pk"))}
    return {value: found.get(value, 0) for value in ComplianceState.values}


def dashboard_snapshot(user, device_ids=None, *, state: str = "", limit: int = 500) -> dict | None:
    """Counts per state and rows (those of `device_ids`, else the latest evaluated, filtered by
    `state`), as `user` may see them; None when the user may not see compliance at all."""
    rows = _visible(user)
    if rows is None:
        return None
    rows = rows.select_related("device")
    if device_ids is not None:
        rows = rows.filter(device_id__in=list(device_ids))
    elif state:
        rows = rows.filter(state=state)
    return {
        "counts": counts(user),
        "rows": [compliance_row(c) for c in rows.order_by("-evaluated", "device_id")[:limit]],
        "at": timezone.now().isoformat(),
    }


def device_snapshot(device_id: int, user) -> dict | None:
    """The compliance and dry run of one device as its home-network page shows them."""
    from acs.homenet import services

    if _visible(user) is None:
        return None
    device = Device.objects.restrict(user, "view").filter(pk=device_id).first()
    if device is None:
        return None
    c = Compliance.objects.filter(device=device).first()
    plan, names = services.dry_run(device)
    data = services.plan_to_json(plan)
    data.pop("rpcs")
    return {
        "device": device.pk,
        "compliance": None
        if c is None
        else {
            "state": c.state,
            "state_label": ComplianceState(c.state).label,
            "evaluated": _iso(c.evaluated),
            "fault_code": c.fault_code,
            "fault_string": c.fault_string,
            "fault_details": c.fault_details,
            "conflicts": c.conflicts,
            "problems": c.problems,
            "pending_tasks": c.pending.get("tasks", []) if c.pending else [],
        },
        "profiles": names,
        "plan": data,
        "at": timezone.now().isoformat(),
        "poll_url": reverse("homenet:device_live", args=[device.pk]),
    }
