"""Every state change of a rollout: `verb_rollout(rollout, *, actor)` in a transaction, audited,
the engine asked to act on commit. Views, the REST API and Celery tasks call these only.

Controls and the states they apply to:

=============== ============================== =====================================================
control         from                           effect
=============== ============================== =====================================================
start           draft                          running; the first wave is released by the engine
pause           running                        paused: nothing new starts, announcements withdrawn
resume          paused, halted                 running; the stop rule counts outcomes from now on
cancel          draft, running, paused, halted cancelled: queued Downloads withdrawn, nothing more
deactivate      running, paused, halted        deactivating: in-flight boxes finish, nothing new
retry failed    running, paused, halted,       failed and timed-out boxes back to pending; a halted
                completed                      or completed rollout runs again
approve wave    running, paused                the next wave may be released (gate "approval")
=============== ============================== =====================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fus.choices import FirmwareStatus
from fus.models import DeviceClass, FirmwarePackage, Rollout, RolloutDevice, RolloutWave
from fus.rollouts import live, plan, schedule
from fus.rollouts.choices import (
    Assignment,
    Channel,
    DeviceState,
    GateMode,
    RolloutStatus,
)
from portal.audit import record_event
from portal.choices import AuditKind


class RolloutStateError(ValueError):
    """A control that does not apply to the rollout's state; the text says why."""


#: Plain fields a draft's spec may set (the service checks their values).
SPEC_FIELDS = (
    "name",
    "channels",
    "from_versions",
    "hardware_versions",
    "range_list",
    "tags",
    "saved_filter",
    "assignment",
    "stages",
    "start_at",
    "end_at",
    "time_zone",
    "windows",
    "disruptive_windows",
    "max_concurrent",
    "starts_per_minute",
    "jitter_seconds",
    "gate",
    "success_threshold",
    "soak_minutes",
    "failure_threshold",
    "failure_window_minutes",
    "min_sample",
    "count_timeouts",
    "device_timeout_minutes",
)


def _strings(value, field: str, errors: dict) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.replace("\n", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[field] = f"{value!r} is not a list of strings"
        return []
    value = [v.strip() for v in value if v.strip()]
    for v in value:
        if len(v) > 64:
            errors[field] = f"{v[:70]!r} is longer than 64 characters"
    return list(dict.fromkeys(value))


def _check(rollout: Rollout, device_classes: list[DeviceClass] | None, errors: dict) -> None:
    """Check a draft's values; fills `errors` {field: message} (never raises on its own)."""
    if not rollout.name or len(rollout.name) > 120:
        errors["name"] = "a name of 1-120 characters is required"
    package = rollout.package
    if package.status not in (FirmwareStatus.VALIDATED, FirmwareStatus.APPROVED):
        errors["package"] = (
            f"package {package} is {package.status}: only validated or approved firmware "
            "can be planned"
        )
    channels = rollout.channels
    if (
        not isinstance(channels, list)
        or not channels
        or any(c not in Channel.values for c in channels)
    ):
        errors["channels"] = f"{channels!r}: choose one or more of {', '.join(Channel.values)}"
    else:
        rollout.channels = list(dict.fromkeys(channels))
    for name in ("from_versions", "hardware_versions", "tags"):
        setattr(rollout, name, _strings(getattr(rollout, name), name, errors))
    if device_classes is not None:
        allowed = set(package.device_classes.values_list("pk", flat=True))
        foreign = [str(dc) for dc in device_classes if dc.pk not in allowed]
        if foreign:
            errors["device_classes"] = (
                f"{', '.join(foreign)}: not a device class of package {package}"
            )
    try:
        plan.parse_range_list(rollout.range_list)
    except plan.PlanError as exc:
        errors["range_list"] = str(exc)
    if rollout.assignment not in Assignment.values:
        errors["assignment"] = f"{rollout.assignment!r} is not one of {Assignment.values}"
    try:
        plan.parse_stages(rollout.stages)
    except plan.PlanError as exc:
        errors["stages"] = str(exc)
    if rollout.start_at and rollout.end_at and rollout.end_at <= rollout.start_at:
        errors["end_at"] = f"{rollout.end_at.isoformat()} is not after the start"
    try:
        schedule.zone(rollout.time_zone)
    except schedule.WindowError as exc:
        errors["time_zone"] = str(exc)
    for name in ("windows", "disruptive_windows"):
        try:
            schedule.parse_windows(getattr(rollout, name), field=name)
        except schedule.WindowError as exc:
            errors[name] = str(exc)
    if rollout.gate not in GateMode.values:
        errors["gate"] = f"{rollout.gate!r} is not one of {GateMode.values}"
    for name, lo, hi in (
        ("max_concurrent", 1, 1_000_000),
        ("starts_per_minute", 1, 1_000_000),
        ("jitter_seconds", 0, 86_400),
        ("success_threshold", 0, 100),
        ("soak_minutes", 0, 10_080),
        ("failure_threshold", 1, 100),
        ("failure_window_minutes", 1, 10_080),
        ("min_sample", 1, 1_000_000),
        ("device_timeout_minutes", 1, 43_200),
    ):
        value = getattr(rollout, name)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            errors[name] = f"{value!r} is not a whole number in [{lo}, {hi}]"
    if (
        rollout.saved_filter_id
        and rollout.created_by_id is not None
        and rollout.saved_filter.user_id != rollout.created_by_id
    ):
        errors["saved_filter"] = "a saved search of your own"


def _apply(rollout: Rollout, spec: dict[str, Any]) -> list[DeviceClass] | None:
    unknown = set(spec) - set(SPEC_FIELDS) - {"device_classes"}
    if unknown:
        raise ValidationError({k: "not a field of a rollout" for k in sorted(unknown)})
    for name in SPEC_FIELDS:
        if name in spec:
            setattr(rollout, name, spec[name])
    if rollout.saved_filter is not None:
        rollout.device_query = rollout.saved_filter.query
    elif "saved_filter" in spec:
        rollout.device_query = ""
    classes = spec.get("device_classes")
    return None if classes is None else list(classes)


def _save_and_plan(rollout: Rollout, device_classes, errors: dict) -> None:
    _check(rollout, device_classes, errors)
    if errors:
        raise ValidationError(errors)
    rollout.save()
    if device_classes is not None:
        rollout.device_classes.set(device_classes)
    try:
        plan.plan(rollout)
    except plan.PlanError as exc:
        raise ValidationError({"__all__": str(exc)}) from None


@transaction.atomic
def create_rollout(package: FirmwarePackage, spec: dict[str, Any], *, actor) -> Rollout:
    """A draft rollout of `package`, planned (its waves are the preview)."""
    rollout = Rollout(package=package, created_by=actor if _user(actor) else None)
    spec = {"stages": [{"name": "canary", "count": 1}, {"percent": 100}], **spec}
    device_classes = _apply(rollout, spec)
    _save_and_plan(rollout, device_classes, {})
    record_event(
        AuditKind.ROLLOUT_CREATED,
        obj=rollout,
        actor=actor,
        message=f"Rollout {rollout} of {package} planned: {_plan_summary(rollout)}",
        details={"waves": [w.size for w in rollout.waves.all()]},
    )
    return rollout


@transaction.atomic
def update_rollout(rollout: Rollout, spec: dict[str, Any], *, actor) -> Rollout:
    """Change a draft and plan it again."""
    rollout = _locked(rollout)
    if rollout.status != RolloutStatus.DRAFT:
        raise RolloutStateError(
            f"Only draft rollouts can be edited; {rollout} is {rollout.status}."
        )
    device_classes = _apply(rollout, spec)
    _save_and_plan(rollout, device_classes, {})
    record_event(
        AuditKind.ROLLOUT_PLANNED,
        obj=rollout,
        actor=actor,
        message=f"Rollout {rollout} planned again: {_plan_summary(rollout)}",
        details={"waves": [w.size for w in rollout.waves.all()]},
    )
    return rollout


@transaction.atomic
def replan_rollout(rollout: Rollout, *, actor) -> Rollout:
    """Plan a draft again against today's inventory."""
    return update_rollout(rollout, {}, actor=actor)


def _plan_summary(rollout: Rollout) -> str:
    return ", ".join(f"{w.name} {w.size}" for w in rollout.waves.all()) or "no device"


def _user(actor) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def _locked(rollout: Rollout) -> Rollout:
    # of=self: the joined package row stays unlocked (downloads of it insert rows pointing at it)
    return (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("package")
        .get(pk=rollout.pk)
    )


def _kick(rollout: Rollout) -> None:
    from fus.rollouts.tasks import advance

    rollout_id = rollout.pk
    transaction.on_commit(lambda: advance.delay(rollout_id=rollout_id))
    live.announce(rollout_id)


def _require(rollout: Rollout, states: Iterable[str], verb: str) -> None:
    states = tuple(states)
    if rollout.status not in states:
        allowed = ", ".join(RolloutStatus(s).label.lower() for s in states)
        raise RolloutStateError(
            f"Cannot {verb} rollout {rollout}: it is {rollout.get_status_display().lower()} "
            f"(only {allowed} rollouts)."
        )


@transaction.atomic
def start_rollout(rollout: Rollout, *, actor) -> Rollout:
    rollout = _locked(rollout)
    _require(rollout, (RolloutStatus.DRAFT,), "start")
    if rollout.package.status != FirmwareStatus.APPROVED:
        raise RolloutStateError(
            f"Package {rollout.package} is {rollout.package.status}: approve it before starting."
        )
    if not rollout.waves.exists():
        raise RolloutStateError(f"Rollout {rollout} has no plan.")
    total = sum(rollout.waves.values_list("size", flat=True))
    if total == 0 and not set(rollout.channels) & {Channel.AUTONOMOUS, Channel.UNMANAGED}:
        raise RolloutStateError(
            f"Rollout {rollout} targets no device of the inventory (plan it again?)."
        )
    now = timezone.now()
    rollout.status = RolloutStatus.RUNNING
    rollout.started_at = now
    rollout.stop_rule_from = now
    rollout.halt_reason = ""
    rollout.save(update_fields=["status", "started_at", "stop_rule_from", "halt_reason", "updated"])
    record_event(
        AuditKind.ROLLOUT_STARTED,
        obj=rollout,
        actor=actor,
        message=f"Rollout {rollout} started: {total} devices, {_plan_summary(rollout)}",
    )
    _kick(rollout)
    return rollout


@transaction.atomic
def pause_rollout(rollout: Rollout, *, actor) -> Rollout:
    rollout = _locked(rollout)
    _require(rollout, (RolloutStatus.RUNNING,), "pause")
    rollout.status = RolloutStatus.PAUSED
    rollout.save(update_fields=["status", "updated"])
    record_event(AuditKind.ROLLOUT_PAUSED, obj=rollout, actor=actor, message=f"{rollout} paused")
    live.announce(rollout.pk)
    return rollout


@transaction.atomic
def resume_rollout(rollout: Rollout, *, actor) -> Rollout:
    """Run again after a pause or a halt; outcomes before now no longer count for the stop rule
    (a halted rollout would otherwise trip again at once on the failures that halted it)."""
    rollout = _locked(rollout)
    _require(rollout, (RolloutStatus.PAUSED, RolloutStatus.HALTED), "resume")
    previous = rollout.halt_reason
    rollout.status = RolloutStatus.RUNNING
    rollout.halt_reason = ""
    rollout.stop_rule_from = timezone.now()
    rollout.save(update_fields=["status", "halt_reason", "stop_rule_from", "updated"])
    record_event(
        AuditKind.ROLLOUT_RESUMED,
        obj=rollout,
        actor=actor,
        message=f"{rollout} resumed",
        details={"halt_reason": previous} if previous else {},
    )
    _kick(rollout)
    return rollout


@transaction.atomic
def cancel_rollout(rollout: Rollout, *, actor) -> Rollout:
    """Stop for good: queued Downloads withdrawn (their boxes skipped), nothing more announced.
    Downloads already sent cannot be called back; their outcomes are no longer collected."""
    from fus.rollouts.engine import _withdraw_queued

    rollout = _locked(rollout)
    _require(
        rollout,
        (RolloutStatus.DRAFT, RolloutStatus.RUNNING, RolloutStatus.PAUSED, RolloutStatus.HALTED),
        "cancel",
    )
    now = timezone.now()
    withdrawn = _withdraw_queued(rollout.members.filter(state=DeviceState.IN_FLIGHT))
    RolloutDevice.objects.filter(pk__in=withdrawn).update(
        state=DeviceState.SKIPPED, finished_at=now, detail="cancelled before it was sent"
    )
    rollout.status = RolloutStatus.CANCELLED
    rollout.finished_at = now
    rollout.save(update_fields=["status", "finished_at", "updated"])
    record_event(
        AuditKind.ROLLOUT_CANCELLED,
        obj=rollout,
        actor=actor,
        message=f"{rollout} cancelled ({len(withdrawn)} queued Downloads withdrawn)",
    )
    live.announce(rollout.pk)
    return rollout


@transaction.atomic
def deactivate_rollout(rollout: Rollout, *, actor) -> Rollout:
    """Nothing new starts; boxes in flight finish (their outcomes are still collected)."""
    from fus.rollouts.engine import _deactivate

    rollout = _locked(rollout)
    _require(
        rollout,
        (RolloutStatus.RUNNING, RolloutStatus.PAUSED, RolloutStatus.HALTED),
        "deactivate",
    )
    _deactivate(rollout, "", now=timezone.now())
    rollout.save(update_fields=["status", "halt_reason", "updated"])
    record_event(
        AuditKind.ROLLOUT_DEACTIVATED,
        obj=rollout,
        actor=actor,
        message=f"{rollout} deactivated: devices in flight finish, nothing new starts",
    )
    _kick(rollout)
    return rollout


@transaction.atomic
def retry_failed(rollout: Rollout, *, actor) -> int:
    """Failed and timed-out boxes of the inventory back to pending (only those); a halted or
    completed rollout runs again. Returns how many."""
    rollout = _locked(rollout)
    _require(
        rollout,
        (
            RolloutStatus.RUNNING,
            RolloutStatus.PAUSED,
            RolloutStatus.HALTED,
            RolloutStatus.COMPLETED,
        ),
        "retry the failures of",
    )
    retried = rollout.members.filter(
        state__in=(DeviceState.FAILED, DeviceState.TIMED_OUT), device__isnull=False
    ).update(
        state=DeviceState.PENDING,
        task=None,
        started_at=None,
        finished_at=None,
        source="",
        confirmed=False,
        fault_code=None,
        detail="",
    )
    if rollout.status in (RolloutStatus.HALTED, RolloutStatus.COMPLETED):
        rollout.status = RolloutStatus.RUNNING
        rollout.halt_reason = ""
        rollout.finished_at = None
    rollout.stop_rule_from = timezone.now()
    waves = rollout.waves.filter(number__lte=rollout.current_wave, state="done")
    waves.update(state="released", finished_at=None)
    rollout.save(
        update_fields=["status", "halt_reason", "finished_at", "stop_rule_from", "updated"]
    )
    record_event(
        AuditKind.ROLLOUT_RETRIED,
        obj=rollout,
        actor=actor,
        message=f"{rollout}: {retried} failed devices queued again",
        details={"devices": retried},
    )
    _kick(rollout)
    return retried


@transaction.atomic
def approve_wave(rollout: Rollout, number: int, *, actor) -> RolloutWave:
    """Approve the next wave of a rollout with the approval gate."""
    rollout = _locked(rollout)
    _require(rollout, (RolloutStatus.RUNNING, RolloutStatus.PAUSED), "approve a wave of")
    wave = rollout.waves.select_for_update().filter(number=number).first()
    if wave is None:
        raise RolloutStateError(f"Rollout {rollout} has no wave {number}.")
    if wave.state != "pending" or wave.approved_at is not None:
        raise RolloutStateError(f"Wave {wave.name!r} is already {wave.state} or approved.")
    if number != rollout.current_wave + 1:
        raise RolloutStateError(
            f"Only the next wave ({rollout.current_wave + 1}) can be approved, not {number}."
        )
    wave.approved_at = timezone.now()
    wave.approved_by = actor if _user(actor) else None
    wave.save(update_fields=["approved_at", "approved_by"])
    record_event(
        AuditKind.ROLLOUT_WAVE_APPROVED,
        obj=rollout,
        actor=actor,
        message=f"{rollout}: wave {wave.name!r} approved",
        details={"wave": number},
    )
    _kick(rollout)
    return wave
