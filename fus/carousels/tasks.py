"""Celery tasks of the carousels: the long-running loop (queue `carousel`) and the watchdog (beat).

The loop task is acknowledged on receipt (`acks_late=False`): a broker must not hand a carousel
that runs for days to a second worker after a visibility timeout. A worker that dies takes its
carousels with it; the watchdog sees their heartbeats age and dispatches them again under a new run
id (a late loop of the old run notices it was superseded and ends).
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_shutting_down

from fus.carousels.loop import SHUTDOWN, run_loop


@worker_shutting_down.connect
def _stop_loops(**kwargs) -> None:
    SHUTDOWN.set()


@shared_task(name="fus.carousels.run", acks_late=False, ignore_result=True)
def run_carousel(carousel_id: int, run_id: str, **kwargs) -> str:
    """Run one carousel until it is stopped, superseded or the worker shuts down."""
    return run_loop(carousel_id, run_id)


@shared_task(name="fus.carousels.watchdog", ignore_result=True)
def watchdog(**kwargs) -> int:
    """Restart carousels meant to run whose heartbeat is stale; settle stopped ones."""
    from fus.services.carousels import restart_stale_carousels

    return restart_stale_carousels()
