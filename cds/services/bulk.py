"""CDS storage configuration across a population (TS 102 542-4 clause 13: "the configuration of
the CDS storage space when the CDS service has been newly introduced"), and the nearly-full report.

A `ConfigurationJob` names the population (device class, SoftwareVersion, tag), the storage and
the Folder quota. Starting it fixes its targets (the boxes the starting user may act on); the
beat task `cds.configuration.tick` then starts at most `rate_per_minute` boxes a minute and keeps
no more than `max_in_flight` open at once. Each box is one `configure_storage` operation: it reads
the box and sets the quota where the storage is a Folder (and, for pull, the user consented), else
the box is skipped with the reason.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from acs.models import Device
from cds import datamodel as dm
from cds.choices import CdsAuditKind, JobState, Outcome, Service, TargetState
from cds.models import ConfigurationJob, JobTarget, Operation
from cds.services.storage import CdsError, configure_storage
from portal.audit import record_event

MAX_RATE = 10_000
CHUNK = 2_000


def population(job: ConfigurationJob, user):
    """The boxes a job addresses that `user` may act on."""
    devices = Device.objects.restrict(user, "change")
    if job.device_class_id is not None:
        devices = devices.filter(device_class_id=job.device_class_id)
    if job.software_version:
        devices = devices.filter(software_version=job.software_version)
    if job.tag:
        from acs.ui.filtersets import DeviceFilterSet

        devices = DeviceFilterSet().filter_tag(devices, "tag", job.tag)
    return devices


@transaction.atomic
def create_job(
    *,
    name: str,
    service: str,
    capacity_mb: int,
    actor,
    device_class=None,
    software_version: str = "",
    tag: str = "",
    rate_per_minute: int = 60,
    max_in_flight: int = 200,
) -> ConfigurationJob:
    name = " ".join((name or "").split())
    if not name:
        raise CdsError("name: a job needs a name")
    if service not in Service.values:
        raise CdsError(f"service: {service!r} is not one of {', '.join(Service.values)}")
    if not isinstance(capacity_mb, int) or not 1 <= capacity_mb <= dm.MAX_UNSIGNED_INT:
        raise CdsError(f"capacity_mb: {capacity_mb!r} is not a quota in MB (1 to 2^32-1)")
    if not isinstance(rate_per_minute, int) or not 1 <= rate_per_minute <= MAX_RATE:
        raise CdsError(f"rate_per_minute: {rate_per_minute!r} is not between 1 and {MAX_RATE}")
    if not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise CdsError(f"max_in_flight: {max_in_flight!r} is not a positive number")
    job = ConfigurationJob.objects.create(
        name=name[:100],
        service=service,
        capacity_mb=capacity_mb,
        device_class=device_class,
        software_version=software_version.strip()[:64],
        tag=tag.strip()[:64],
        rate_per_minute=rate_per_minute,
        max_in_flight=max_in_flight,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_event(
        CdsAuditKind.JOB_CREATED,
        obj=job,
        actor=actor,
        message=f"CDS configuration job {job.name!r}: {service} quota {capacity_mb} MB",
    )
    return job


@transaction.atomic
def start_job(job: ConfigurationJob, *, actor, now: datetime | None = None) -> ConfigurationJob:
    """Fix the targets (first start) and run; also resumes a paused job."""
    job = ConfigurationJob.objects.select_for_update().get(pk=job.pk)
    now = now or timezone.now()
    if job.state == JobState.DRAFT:
        ids = population(job, actor).order_by("pk").values_list("pk", flat=True)
        batch: list[JobTarget] = []
        for device_id in ids.iterator(chunk_size=CHUNK):
            batch.append(JobTarget(job=job, device_id=device_id))
            if len(batch) >= CHUNK:
                JobTarget.objects.bulk_create(batch)
                batch = []
        JobTarget.objects.bulk_create(batch)
    elif job.state != JobState.PAUSED:
        raise CdsError(f"job {job.name!r} is {job.get_state_display().lower()}: it cannot start")
    job.state = JobState.RUNNING
    job.last_tick = now
    job.save(update_fields=["state", "last_tick"])
    record_event(
        CdsAuditKind.JOB_STARTED,
        obj=job,
        actor=actor,
        message=f"CDS configuration job {job.name!r} started ({job.targets.count()} boxes)",
    )
    return job


@transaction.atomic
def pause_job(job: ConfigurationJob, *, actor) -> ConfigurationJob:
    job = ConfigurationJob.objects.select_for_update().get(pk=job.pk)
    if job.state != JobState.RUNNING:
        raise CdsError(f"job {job.name!r} is not running")
    job.state = JobState.PAUSED
    job.save(update_fields=["state"])
    record_event(CdsAuditKind.JOB_PAUSED, obj=job, actor=actor, message=f"{job.name!r} paused")
    return job


@transaction.atomic
def cancel_job(job: ConfigurationJob, *, actor) -> ConfigurationJob:
    """Stop starting boxes; boxes already started finish their operation."""
    job = ConfigurationJob.objects.select_for_update().get(pk=job.pk)
    if job.state in (JobState.DONE, JobState.CANCELLED):
        raise CdsError(f"job {job.name!r} is already {job.get_state_display().lower()}")
    job.state = JobState.CANCELLED
    job.finished = timezone.now()
    job.save(update_fields=["state", "finished"])
    job.targets.filter(state=TargetState.WAITING).update(
        state=TargetState.SKIPPED, message="job cancelled"
    )
    record_event(
        CdsAuditKind.JOB_CANCELLED, obj=job, actor=actor, message=f"{job.name!r} cancelled"
    )
    return job


def advance_job(job_id: int, *, now: datetime | None = None) -> int:
    """Start the boxes the rate allows since the last tick; returns how many were started."""
    now = now or timezone.now()
    with transaction.atomic():
        job = (
            ConfigurationJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, state=JobState.RUNNING)
            .first()
        )
        if job is None:
            return 0
        elapsed = (now - (job.last_tick or now)).total_seconds()
        allowed = min(job.rate_per_minute, int(job.rate_per_minute * elapsed / 60))
        in_flight = job.targets.filter(state=TargetState.STARTED).count()
        allowed = max(0, min(allowed, job.max_in_flight - in_flight))
        waiting = list(
            job.targets.filter(state=TargetState.WAITING).select_related("device")[:allowed]
        )
        for target in waiting:
            target.state = TargetState.STARTED
            target.started = now
            target.save(update_fields=["state", "started"])
            configure_storage(
                target.device,
                job.service,
                job.capacity_mb,
                actor=job.created_by,
                job_target=target,
            )
        if allowed or elapsed >= 60:
            job.last_tick = now
        if not job.targets.filter(state__in=(TargetState.WAITING, TargetState.STARTED)).exists():
            job.state = JobState.DONE
            job.finished = now
        job.save(update_fields=["last_tick", "state", "finished"])
        return len(waiting)


def tick(*, now: datetime | None = None) -> int:
    started = 0
    for job_id in ConfigurationJob.objects.filter(state=JobState.RUNNING).values_list(
        "pk", flat=True
    ):
        started += advance_job(job_id, now=now)
    return started


_TARGET_STATE = {
    Outcome.DONE: TargetState.DONE,
    Outcome.SKIPPED: TargetState.SKIPPED,
    Outcome.GONE: TargetState.FAILED,
    Outcome.FAILED: TargetState.FAILED,
}


def target_finished(operation: Operation) -> None:
    """A job's box is done (called when its operation finishes)."""
    JobTarget.objects.filter(pk=operation.job_target_id, state=TargetState.STARTED).update(
        state=_TARGET_STATE.get(operation.outcome, TargetState.FAILED),
        message=operation.message[:500],
        finished=operation.finished or timezone.now(),
    )


def job_counts(job: ConfigurationJob) -> dict[str, int]:
    counts = dict.fromkeys(TargetState.values, 0)
    for row in job.targets.values("state").order_by().annotate(n=Count("pk")):
        counts[row["state"]] = row["n"]
    return counts


def nearly_full(storages, *, percent: int = 90, service: str | None = None):
    """Storages at or above `percent` full (indexed column), fullest first."""
    if not 1 <= percent <= 100:
        raise CdsError(f"percent: {percent} is not between 1 and 100")
    query = storages.filter(fill_percent__gte=percent)
    if service:
        if service not in Service.values:
            raise CdsError(f"service: {service!r} is not one of {', '.join(Service.values)}")
        query = query.filter(service=service)
    return query.select_related("device", "device__customer").order_by(
        F("fill_percent").desc(), "device_id", "service"
    )
