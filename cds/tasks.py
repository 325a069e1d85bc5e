"""Celery tasks of the CDS app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="cds.configuration.tick", ignore_result=True)
def configuration_tick(**kwargs) -> int:
    """Start the boxes each running configuration job's rate allows (beat, every 10 s)."""
    from cds.services.bulk import tick

    return tick()
