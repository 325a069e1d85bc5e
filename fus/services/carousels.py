"""Every state change of a carousel: configuration, start, stop, and the watchdog's restarts.

`save_carousel` validates and stores the configuration (change-logged); `start_carousel` records
the operator's intent, gives the carousel a new run id and dispatches its loop to the `carousel`
queue after commit; `stop_carousel` clears the intent (the loop sees it at its next heartbeat and
ends); `restart_stale_carousels` (beat, every 10 s) dispatches again any carousel meant to run whose
heartbeat is older than `CAROUSEL_STALE_SECONDS`, and marks stopped the ones nobody runs any more.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fus.models import Carousel, CarouselRun, CarouselState, FirmwarePackage
from portal.audit import attributed, record_event
from portal.choices import AuditKind

__all__ = [
    "CarouselError",
    "delete_carousel",
    "restart_stale_carousels",
    "save_carousel",
    "start_carousel",
    "stop_carousel",
]


class CarouselError(ValidationError):
    """A carousel change the rules refuse (shown to the operator as is)."""


def _dispatch(carousel_id: int, run_id: uuid.UUID) -> None:
    from fus.carousels.tasks import run_carousel

    transaction.on_commit(lambda: run_carousel.delay(carousel_id=carousel_id, run_id=str(run_id)))


@attributed
@transaction.atomic
def save_carousel(
    carousel: Carousel, *, packages: Iterable[FirmwarePackage] | None = None, actor=None
) -> Carousel:
    """Validate and store a carousel's configuration (and its packages, when given). A running
    carousel picks the change up at its next heartbeat."""
    carousel.full_clean()
    carousel.save()
    if packages is not None:
        carousel.packages.set(list(packages))
    CarouselRun.objects.get_or_create(carousel=carousel)
    return carousel


@attributed
@transaction.atomic
def start_carousel(carousel: Carousel, *, actor=None) -> Carousel:
    carousel = Carousel.objects.select_for_update().get(pk=carousel.pk)
    run, _ = CarouselRun.objects.select_for_update().get_or_create(carousel=carousel)
    if carousel.desired_running and run.state in (CarouselState.STARTING, CarouselState.RUNNING):
        raise CarouselError(f"{carousel} is already running.")
    carousel.desired_running = True
    carousel.save(update_fields=["desired_running", "updated"])
    run.run_id = uuid.uuid4()
    run.state = CarouselState.STARTING
    run.dispatched_at = timezone.now()
    run.heartbeat_at = None
    run.last_error = ""
    run.cycles = run.packets = run.bytes_sent = run.errors = 0
    run.bitrate_bps = 0
    run.save()
    record_event(
        AuditKind.CAROUSEL_STARTED, obj=carousel, actor=actor, details={"run_id": str(run.run_id)}
    )
    _dispatch(carousel.pk, run.run_id)
    return carousel


@attributed
@transaction.atomic
def stop_carousel(carousel: Carousel, *, actor=None) -> Carousel:
    carousel = Carousel.objects.select_for_update().get(pk=carousel.pk)
    if not carousel.desired_running:
        raise CarouselError(f"{carousel} is not running.")
    carousel.desired_running = False
    carousel.save(update_fields=["desired_running", "updated"])
    CarouselRun.objects.filter(carousel=carousel).exclude(state=CarouselState.STOPPED).update(
        state=CarouselState.STOPPING
    )
    record_event(AuditKind.CAROUSEL_STOPPED, obj=carousel, actor=actor)
    return carousel


@attributed
@transaction.atomic
def delete_carousel(carousel: Carousel, *, actor=None) -> None:
    if carousel.desired_running:
        raise CarouselError(f"Stop {carousel} before deleting it.")
    carousel.delete()


@transaction.atomic
def restart_stale_carousels(now=None) -> int:
    """The watchdog. Returns how many carousels it dispatched again."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CAROUSEL_STALE_SECONDS)
    restarted = 0
    runs = CarouselRun.objects.select_for_update().select_related("carousel")
    for run in runs.filter(carousel__desired_running=True):
        heartbeat_old = run.heartbeat_at is None or run.heartbeat_at < stale
        dispatch_old = run.dispatched_at is None or run.dispatched_at < stale
        if not (heartbeat_old and dispatch_old):
            continue
        run.run_id = uuid.uuid4()
        run.state = CarouselState.STARTING
        run.dispatched_at = now
        run.restarts += 1
        run.last_error = "restarted by the watchdog: no heartbeat for {:.0f} s".format(
            (now - run.heartbeat_at).total_seconds()
            if run.heartbeat_at
            else settings.CAROUSEL_STALE_SECONDS
        )
        run.save()
        record_event(
            AuditKind.CAROUSEL_RESTARTED, obj=run.carousel, details={"run_id": str(run.run_id)}
        )
        _dispatch(run.carousel_id, run.run_id)
        restarted += 1
    # Stopped by the operator while no loop ran: nobody will write STOPPED, so settle it here.
    runs.filter(
        carousel__desired_running=False,
        state__in=[
            CarouselState.STOPPING,
            CarouselState.RUNNING,
            CarouselState.STARTING,
            CarouselState.ERROR,
        ],
    ).filter(heartbeat_at__lt=stale).update(state=CarouselState.STOPPED, bitrate_bps=0)
    runs.filter(carousel__desired_running=False, heartbeat_at__isnull=True).exclude(
        state=CarouselState.STOPPED
    ).update(state=CarouselState.STOPPED)
    return restarted
