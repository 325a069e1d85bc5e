"""The rollout engine: one `tick(rollout_id)` moves a rollout as far as it can go now.

A tick runs in ONE transaction with the rollout row locked (``SELECT ... FOR UPDATE``): a worker
killed mid-tick commits nothing (the next tick redoes the work), two ticks of the same rollout run
one after the other. Every device transition is also a guarded UPDATE (``WHERE state = <from>``),
so even a tick that read a stale state (SQLite has no row locks) cannot start a device twice, and
`acs.services.tasks.push_firmware` refuses a second open Download of a box.

Steps, in order:

1. **Collect** outcomes: managed boxes from their Download task (done after TransferComplete and
   the version check; a fault or failed transfer is a *confirmed* failure; "no answer" and expiry
   are *silent*); RMS-FUS and unmanaged boxes from the next Inform's SoftwareVersion,
   AutonomousTransferComplete faults (device events) and update reports (`UpdateReport`, read
   incrementally; reports of boxes outside the inventory add members); time-outs.
2. **Stop rule**: failures over the outcomes of the sliding window (at least `min_sample`) at or
   above `failure_threshold` % halts the rollout: the reason is recorded, queued Downloads not yet
   sent are withdrawn, announcements stop (the gate only announces running rollouts).
3. **Waves**: when the current wave has no pending or in-flight box, it is done; the next one is
   released if the wave met the success criterion, after the soak time, with its approval (gate
   "approval"), inside a maintenance window; a wave below the criterion halts the rollout.
   Releasing a wave writes its member rows (`plan.materialize`, one INSERT ... SELECT).
4. **Dispatch**: managed boxes of released waves get a Download (rate limits: concurrent, starts
   per minute; connection request on commit, spread by the jitter), inside the disruptive window;
   RMS-FUS/unmanaged boxes of released waves are admitted (the gate now answers them).
5. A **sample** of the counts for the chart, and a live announcement on commit.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from acs.choices import DeviceEventKind, TaskState
from acs.models import DeviceEvent
from fus.metadata.identifiers import serial_index_key
from fus.models import Rollout, RolloutDevice, RolloutSample, RolloutWave, UpdateReport
from fus.rollouts import gate, live, plan, schedule
from fus.rollouts.choices import (
    COLLECTING,
    Channel,
    DeviceState,
    OutcomeSource,
    RolloutStatus,
    WaveState,
)
from portal.audit import record_event
from portal.choices import AuditKind

log = logging.getLogger(__name__)

#: Most Downloads queued by one tick (keeps a tick's transaction short; the next tick goes on).
DISPATCH_BATCH = 500
SELF_UPDATING = (Channel.AUTONOMOUS, Channel.UNMANAGED)


@dataclass
class TickResult:
    rollout_id: int
    status: str = ""
    collected: int = 0
    dispatched: int = 0
    admitted: int = 0
    released: list[int] = field(default_factory=list)
    halted: str = ""


def tick(rollout_id: int, *, now: datetime | None = None) -> TickResult | None:
    """Advance one rollout (see the module docstring); None if it is not active."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the rollout row only: a tick takes seconds, and every download of the package
        # inserts a DownloadRecord referencing the package row, which must not wait for it.
        rollout = (
            Rollout.objects.select_for_update(of=("self",))
            .select_related("package")
            .filter(pk=rollout_id, status__in=COLLECTING)
            .first()
        )
        if rollout is None:
            return None
        result = TickResult(rollout_id)
        result.collected = collect(rollout, now=now)
        if rollout.status in (RolloutStatus.RUNNING, RolloutStatus.PAUSED):
            reason = stop_rule_reason(rollout, now=now)
            if reason:
                halt(rollout, reason, now=now)
                result.halted = reason
        if rollout.status == RolloutStatus.RUNNING:
            if rollout.end_at is not None and now > rollout.end_at:
                _deactivate(rollout, "the validity window ended", now=now)
            elif rollout.start_at is None or now >= rollout.start_at:
                advance_waves(rollout, now=now, result=result)
                if rollout.status == RolloutStatus.RUNNING:
                    result.dispatched, result.admitted = dispatch(rollout, now=now)
        if rollout.status == RolloutStatus.DEACTIVATING and not _in_flight(rollout).exists():
            rollout.status = RolloutStatus.DEACTIVATED
            rollout.finished_at = now
            record_event(
                AuditKind.ROLLOUT_DEACTIVATED,
                obj=rollout,
                message=f"{rollout}: the last devices in flight have finished",
            )
        rollout.last_tick = now
        rollout.save(
            update_fields=[
                "status",
                "halt_reason",
                "current_wave",
                "released_all",
                "finished_at",
                "last_tick",
                "reports_seen",
                "events_seen",
                "updated",
            ]
        )
        take_sample(rollout, now=now)
        live.announce(rollout.pk)
        result.status = rollout.status
        return result


def _in_flight(rollout: Rollout):
    return rollout.members.filter(state=DeviceState.IN_FLIGHT)


# --- 1. outcomes -----------------------------------------------------------------------------------


def _finish(row_filter: Q, state: str, *, now: datetime, **fields) -> int:
    return RolloutDevice.objects.filter(row_filter).update(state=state, finished_at=now, **fields)


def collect(rollout: Rollout, *, now: datetime) -> int:
    """Record every outcome known now; returns how many devices got one."""
    done = 0
    done += _collect_downloads(rollout, now=now)
    done += _collect_versions(rollout, now=now)
    done += _collect_transfer_events(rollout, now=now)
    done += _collect_reports(rollout, now=now)
    done += _collect_timeouts(rollout, now=now)
    return done


def _collect_downloads(rollout: Rollout, *, now: datetime) -> int:
    """Managed boxes: the fate of their Download task (also a late one after a time-out)."""
    rows = (
        rollout.members.filter(channel=Channel.MANAGED, task__isnull=False)
        .filter(
            Q(state=DeviceState.IN_FLIGHT)
            | Q(state=DeviceState.TIMED_OUT, source=OutcomeSource.TIMEOUT)
        )
        .filter(task__state__in=(TaskState.DONE, TaskState.FAULT, TaskState.EXPIRED))
        .select_related("task")
    )
    n = 0
    for row in rows:
        task = row.task
        guard = Q(pk=row.pk, state=row.state)
        if task.state == TaskState.DONE:
            n += _finish(
                guard,
                DeviceState.SUCCEEDED,
                now=now,
                source=OutcomeSource.DOWNLOAD,
                confirmed=False,
                fault_code=None,
                detail=(task.reason or "TransferComplete and SoftwareVersion checked")[:500],
            )
        elif row.state == DeviceState.TIMED_OUT:
            continue  # already counted as a silent failure; a late failure adds nothing
        elif task.state == TaskState.FAULT and (
            task.fault_code is not None or not task.reason.startswith("no answer")
        ):
            n += _finish(
                guard,
                DeviceState.FAILED,
                now=now,
                source=OutcomeSource.DOWNLOAD,
                confirmed=True,
                fault_code=task.fault_code,
                detail=task.reason[:500],
            )
        else:  # no answer after the attempts, or expired before it could be sent
            n += _finish(
                guard,
                DeviceState.TIMED_OUT,
                now=now,
                source=OutcomeSource.DOWNLOAD,
                confirmed=False,
                detail=(task.reason or task.state)[:500],
            )
    return n


def _collect_versions(rollout: Rollout, *, now: datetime) -> int:
    """Self-updating boxes that now report the package's SoftwareVersion in their Informs."""
    return _finish(
        Q(
            rollout=rollout,
            state=DeviceState.IN_FLIGHT,
            channel__in=SELF_UPDATING,
            device__software_version=rollout.package.software_version,
        ),
        DeviceState.SUCCEEDED,
        now=now,
        source=OutcomeSource.INFORM,
        detail=f"reports SoftwareVersion {rollout.package.software_version}",
    )


def _collect_transfer_events(rollout: Rollout, *, now: datetime) -> int:
    """AutonomousTransferComplete faults of self-updating boxes in flight (confirmed failures),
    read incrementally (`events_seen`)."""
    top = DeviceEvent.objects.aggregate(top=Max("pk"))["top"] or 0
    events = DeviceEvent.objects.filter(
        pk__gt=rollout.events_seen,
        pk__lte=top,
        kind=DeviceEventKind.TRANSFER,
        device_id__in=rollout.members.filter(
            state=DeviceState.IN_FLIGHT, channel__in=SELF_UPDATING
        ).values("device_id"),
    ).order_by("pk")
    n = 0
    for event in events:
        code = (event.details or {}).get("fault_code") or 0
        if not code or not event.message.startswith("AutonomousTransferComplete"):
            continue
        n += _finish(
            Q(rollout=rollout, device_id=event.device_id, state=DeviceState.IN_FLIGHT),
            DeviceState.FAILED,
            now=now,
            source=OutcomeSource.AUTONOMOUS,
            confirmed=True,
            fault_code=code,
            detail=event.message[:500],
        )
    rollout.events_seen = top
    return n


def _collect_reports(rollout: Rollout, *, now: datetime) -> int:
    """Update reports of the package (by package, or by to-version of its device classes), read
    incrementally (`reports_seen`). A report of a box outside the inventory adds it as a member of
    the current wave when the rollout delivers through QRC/multicast."""
    package = rollout.package
    top = UpdateReport.objects.aggregate(top=Max("pk"))["top"] or 0
    reports = UpdateReport.objects.filter(pk__gt=rollout.reports_seen, pk__lte=top).filter(
        Q(package=package)
        | Q(
            package__isnull=True,
            to_version=package.software_version,
            device_class__in=package.device_classes.all(),
        )
    )
    governed = bool(gate.GATED_CHANNELS & set(rollout.channels))
    planned = None  # the population, built on first need
    n = 0
    for report in reports.order_by("pk"):
        try:
            key = serial_index_key(report.serial_number)
        except ValueError:
            continue
        success = report.result_code == 0
        fields = {
            "source": OutcomeSource.REPORT,
            "confirmed": not success,
            "fault_code": None if success else report.result_code,
            "detail": (report.result_text or ("success" if success else "failure report"))[:500],
        }
        state = DeviceState.SUCCEEDED if success else DeviceState.FAILED
        member = Q(
            rollout=rollout,
            oui=report.oui.upper(),
            product_class=report.product_class,
            serial_key=key,
        )
        updated = _finish(
            member & Q(state__in=(DeviceState.IN_FLIGHT, DeviceState.TIMED_OUT)),
            state,
            now=now,
            **fields,
        )
        if updated:
            n += updated
            continue
        if (
            not governed
            or rollout.current_wave < 0
            or RolloutDevice.objects.filter(member).exists()
        ):
            continue
        if planned is None:
            planned = plan.population(rollout)
        if planned.filter(
            oui=report.oui.upper(),
            product_class=report.product_class,
            serial_number=report.serial_number,
        ).exists():
            continue  # a box of a wave not released yet (its member row comes with the wave)
        RolloutDevice.objects.create(
            rollout=rollout,
            device=None,
            oui=report.oui.upper(),
            product_class=report.product_class,
            serial_number=report.serial_number,
            serial_key=key,
            wave=rollout.current_wave,
            rank=0,
            channel=Channel.UNMANAGED,
            state=state,
            started_at=report.started_at or now,
            finished_at=now,
            **fields,
        )
        n += 1
    rollout.reports_seen = top
    return n


def _collect_timeouts(rollout: Rollout, *, now: datetime) -> int:
    """Boxes without an outcome after `device_timeout_minutes`: silent failures. A managed box's
    Download not yet sent is withdrawn (a sent one may still report: a late success counts)."""
    deadline = now - timedelta(minutes=rollout.device_timeout_minutes)
    late = rollout.members.filter(state=DeviceState.IN_FLIGHT, started_at__lt=deadline)
    _withdraw_queued(late.filter(channel=Channel.MANAGED))
    return _finish(
        Q(pk__in=list(late.values_list("pk", flat=True)), state=DeviceState.IN_FLIGHT),
        DeviceState.TIMED_OUT,
        now=now,
        source=OutcomeSource.TIMEOUT,
        confirmed=False,
        detail=f"no outcome within {rollout.device_timeout_minutes} min",
    )


def _withdraw_queued(rows) -> list[int]:
    """Cancel the queued (not yet sent) Download tasks of these members; returns their ids."""
    from acs.services.tasks import TaskError, cancel_task

    withdrawn = []
    for row in rows.filter(task__state=TaskState.QUEUED).select_related("task"):
        try:
            cancel_task(row.task, actor=None)
        except TaskError:  # sent meanwhile: it runs to its end
            continue
        withdrawn.append(row.pk)
    return withdrawn


# --- 2. stop rule ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowCounts:
    succeeded: int
    confirmed: int
    silent: int
    counted_silent: bool

    @property
    def failures(self) -> int:
        return self.confirmed + (self.silent if self.counted_silent else 0)

    @property
    def sample(self) -> int:
        return self.succeeded + self.failures

    @property
    def rate(self) -> float | None:
        return 100.0 * self.failures / self.sample if self.sample else None


def window_counts(rollout: Rollout, *, now: datetime) -> WindowCounts:
    since = now - timedelta(minutes=rollout.failure_window_minutes)
    if rollout.stop_rule_from and rollout.stop_rule_from > since:
        since = rollout.stop_rule_from
    counts = dict(
        rollout.members.filter(finished_at__gte=since, finished_at__lte=now)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return WindowCounts(
        succeeded=counts.get(DeviceState.SUCCEEDED, 0),
        confirmed=counts.get(DeviceState.FAILED, 0),
        silent=counts.get(DeviceState.TIMED_OUT, 0),
        counted_silent=rollout.count_timeouts,
    )


def stop_rule_reason(rollout: Rollout, *, now: datetime) -> str:
    """Why the stop rule trips now ("" if it does not)."""
    w = window_counts(rollout, now=now)
    if w.sample < max(1, rollout.min_sample) or w.rate is None:
        return ""
    if w.rate < rollout.failure_threshold:
        return ""
    codes = (
        rollout.members.filter(
            state=DeviceState.FAILED,
            finished_at__gte=now - timedelta(minutes=rollout.failure_window_minutes),
            fault_code__isnull=False,
        )
        .values_list("fault_code")
        .annotate(n=Count("pk"))
        .order_by("-n")[:3]
    )
    top = ", ".join(f"fault {code} x{n}" for code, n in codes)
    silent = (
        f"{w.silent} silent (timed out)"
        if rollout.count_timeouts
        else f"{w.silent} silent not counted"
    )
    return (
        f"Stop rule: {w.failures} of {w.sample} outcomes in the last "
        f"{rollout.failure_window_minutes} min failed ({w.rate:.1f}% >= "
        f"{rollout.failure_threshold}%): {w.confirmed} confirmed"
        + (f" ({top})" if top else "")
        + f", {silent}."
    )


def halt(rollout: Rollout, reason: str, *, now: datetime) -> None:
    """Stop everything: status halted with its reason, queued Downloads withdrawn (their boxes
    back to pending, for a resume or a retry), announcements withdrawn by the status."""
    rollout.status = RolloutStatus.HALTED
    rollout.halt_reason = reason[:2000]
    withdrawn = _withdraw_queued(_in_flight(rollout).filter(channel=Channel.MANAGED))
    RolloutDevice.objects.filter(pk__in=withdrawn).update(
        state=DeviceState.PENDING, task=None, started_at=None
    )
    record_event(
        AuditKind.ROLLOUT_HALTED,
        obj=rollout,
        message=reason[:500],
        details={"withdrawn": len(withdrawn), "wave": rollout.current_wave},
    )


def _deactivate(rollout: Rollout, reason: str, *, now: datetime) -> None:
    rollout.status = RolloutStatus.DEACTIVATING
    rollout.halt_reason = reason
    withdrawn = _withdraw_queued(_in_flight(rollout).filter(channel=Channel.MANAGED))
    RolloutDevice.objects.filter(pk__in=withdrawn).update(
        state=DeviceState.PENDING, task=None, started_at=None
    )


# --- 3. waves ----------------------------------------------------------------------------------------


def _wave_counts(rollout: Rollout, number: int) -> dict[str, int]:
    return dict(
        rollout.members.filter(wave=number)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )


def advance_waves(rollout: Rollout, *, now: datetime, result: TickResult) -> None:
    waves = {w.number: w for w in rollout.waves.select_for_update()}
    if not waves:
        return
    while rollout.status == RolloutStatus.RUNNING:
        if rollout.current_wave < 0:
            if not _may_release(rollout, waves[0], now=now):
                return
            release(rollout, waves[0], now=now)
            result.released.append(0)
            continue
        current = waves[rollout.current_wave]
        counts = _wave_counts(rollout, current.number)
        if counts.get(DeviceState.PENDING) or counts.get(DeviceState.IN_FLIGHT):
            return
        if current.state != WaveState.DONE:
            current.state = WaveState.DONE
            current.finished_at = now
            current.save(update_fields=["state", "finished_at"])
        outcomes = sum(
            counts.get(s, 0)
            for s in (DeviceState.SUCCEEDED, DeviceState.FAILED, DeviceState.TIMED_OUT)
        )
        rate = 100.0 * counts.get(DeviceState.SUCCEEDED, 0) / outcomes if outcomes else 100.0
        nxt = waves.get(current.number + 1)
        if rate < rollout.success_threshold:
            reason = (
                f"Wave {current.name!r}: {rate:.1f}% succeeded "
                f"({counts.get(DeviceState.SUCCEEDED, 0)} of {outcomes}), below the "
                f"{rollout.success_threshold}% success criterion."
            )
            halt(rollout, reason, now=now)
            result.halted = reason
            return
        if nxt is None:
            rollout.status = RolloutStatus.COMPLETED
            rollout.finished_at = now
            record_event(
                AuditKind.ROLLOUT_COMPLETED,
                obj=rollout,
                message=f"{rollout}: every wave is done",
            )
            return
        if rollout.soak_minutes and now < current.finished_at + timedelta(
            minutes=rollout.soak_minutes
        ):
            return
        if not _may_release(rollout, nxt, now=now):
            return
        release(rollout, nxt, now=now)
        result.released.append(nxt.number)


def _may_release(rollout: Rollout, wave: RolloutWave, *, now: datetime) -> bool:
    if wave.number > 0 and rollout.gate == "approval" and wave.approved_at is None:
        return False
    return schedule.is_open(rollout.windows, rollout.time_zone, now)


def release(rollout: Rollout, wave: RolloutWave, *, now: datetime) -> None:
    """Release a wave: its members are written (one INSERT ... SELECT of its planned slice of
    the population, `plan.materialize`), its boxes may start; the released serial ranges widen.
    In the tick's transaction: a killed worker leaves neither the members nor the release."""
    planned = wave.size
    written = plan.materialize(rollout, wave)
    wave.size = rollout.members.filter(wave=wave.number, device__isnull=False).count()
    wave.state = WaveState.RELEASED
    wave.released_at = now
    wave.save(update_fields=["state", "released_at", "size"])
    rollout.current_wave = wave.number
    last = not rollout.waves.filter(number__gt=wave.number).exists()
    governed = bool(gate.GATED_CHANNELS & set(rollout.channels))
    if governed:
        rollout.released_all = last
        gate.write_ranges(rollout)
    record_event(
        AuditKind.ROLLOUT_WAVE_RELEASED,
        obj=rollout,
        message=f"{rollout}: wave {wave.name!r} released ({wave.size} devices)",
        details={
            "wave": wave.number,
            "size": wave.size,
            "planned": planned,
            "written": written,
            "last": last,
        },
    )


# --- 4. dispatch -------------------------------------------------------------------------------------


def dispatch(rollout: Rollout, *, now: datetime) -> tuple[int, int]:
    """Start boxes of released waves: admit self-updating ones, queue Downloads for managed ones
    within the limits and the disruptive window. Returns (Downloads queued, boxes admitted)."""
    admitted = RolloutDevice.objects.filter(
        rollout=rollout,
        state=DeviceState.PENDING,
        channel__in=SELF_UPDATING,
        wave__lte=rollout.current_wave,
    ).update(state=DeviceState.IN_FLIGHT, started_at=now, attempts=F("attempts") + 1)
    windows = rollout.disruptive_windows or rollout.windows
    if not schedule.is_open(windows, rollout.time_zone, now):
        return 0, admitted
    managed = rollout.members.filter(channel=Channel.MANAGED)
    in_flight = managed.filter(state=DeviceState.IN_FLIGHT).count()
    started = managed.filter(started_at__gt=now - timedelta(seconds=60)).count()
    budget = min(
        rollout.max_concurrent - in_flight, rollout.starts_per_minute - started, DISPATCH_BATCH
    )
    if budget <= 0:
        return 0, admitted
    candidates = list(
        managed.filter(state=DeviceState.PENDING, wave__lte=rollout.current_wave)
        .select_related("device")
        .order_by("wave", "rank")[:budget]
    )
    queued = 0
    for row in candidates:
        if queued >= budget:
            break
        if _start_managed(rollout, row, now=now):
            queued += 1
    return queued, admitted


def _start_managed(rollout: Rollout, row: RolloutDevice, *, now: datetime) -> bool:
    from acs.services.tasks import TaskError, push_firmware

    claimed = RolloutDevice.objects.filter(pk=row.pk, state=DeviceState.PENDING).update(
        state=DeviceState.IN_FLIGHT, started_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return False  # another tick took it
    device, package = row.device, rollout.package
    if device is None:
        _finish(
            Q(pk=row.pk),
            DeviceState.SKIPPED,
            now=now,
            source=OutcomeSource.ENGINE,
            detail="the device is no longer in the inventory",
        )
        return False
    if device.software_version == package.software_version:
        _finish(
            Q(pk=row.pk),
            DeviceState.SUCCEEDED,
            now=now,
            source=OutcomeSource.INFORM,
            detail=f"already on {package.software_version}",
        )
        return False
    try:
        with transaction.atomic():
            task = push_firmware(device, package, actor=None, audit=False, kick=False)
    except TaskError as exc:
        _finish(
            Q(pk=row.pk),
            DeviceState.SKIPPED,
            now=now,
            source=OutcomeSource.ENGINE,
            detail=str(exc)[:500],
        )
        return False
    RolloutDevice.objects.filter(pk=row.pk).update(task=task)
    if device.connection_request_url:
        delay = random.uniform(0, rollout.jitter_seconds) if rollout.jitter_seconds else 0
        device_id = device.pk
        transaction.on_commit(lambda: _connection_request(device_id, delay))
    return True


def _connection_request(device_id: int, delay: float) -> None:
    from acs.tasks import connection_request

    try:
        connection_request.apply_async(kwargs={"device_id": device_id}, countdown=delay)
    except Exception:  # the box still gets its Download at its next periodic session
        log.warning("could not queue a connection request for device %s", device_id, exc_info=True)


# --- 5. samples --------------------------------------------------------------------------------------


def state_counts(rollout: Rollout) -> dict[str, int]:
    """Devices per state; the planned devices of waves not yet released (no member rows yet)
    are pending."""
    counts = dict(
        rollout.members.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    out = {state: counts.get(state, 0) for state in DeviceState.values}
    unreleased = rollout.waves.filter(released_at__isnull=True).aggregate(n=Sum("size"))["n"]
    out[DeviceState.PENDING] += unreleased or 0
    return out


def take_sample(rollout: Rollout, *, now: datetime) -> RolloutSample | None:
    """A chart point when the counts changed since the last one."""
    counts = state_counts(rollout)
    rate = window_counts(rollout, now=now).rate
    values = {
        "pending": counts[DeviceState.PENDING],
        "in_flight": counts[DeviceState.IN_FLIGHT],
        "succeeded": counts[DeviceState.SUCCEEDED],
        "failed": counts[DeviceState.FAILED],
        "timed_out": counts[DeviceState.TIMED_OUT],
    }
    last = rollout.samples.order_by("-at").first()
    if last is not None and all(getattr(last, k) == v for k, v in values.items()):
        return None
    return RolloutSample.objects.create(rollout=rollout, at=now, failure_rate=rate, **values)


def active_rollout_ids() -> list[int]:
    return list(
        Rollout.objects.filter(status__in=COLLECTING).order_by("pk").values_list("pk", flat=True)
    )
