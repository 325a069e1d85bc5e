"""Celery tasks of the configurator."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="homenet.schedule")
def run_schedule(**kwargs) -> int:
    """Beat: converge devices whose scheduled profiles are due (`services.due_for_schedule`)."""
    from acs.homenet.services import due_for_schedule

    return due_for_schedule()
