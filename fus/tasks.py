"""Celery tasks of the FUS. Named explicitly, IDs as arguments, idempotent."""

from celery import shared_task

from fus.uploads import purge_stale_incoming


@shared_task(name="fus.uploads.purge_stale")
def purge_stale_uploads(max_age_seconds: int = 24 * 3600, **kwargs) -> int:
    """Delete partial uploads a killed web process left in MEDIA_ROOT/.incoming."""
    return purge_stale_incoming(max_age_seconds)


# The rollout engine's tasks live in their package; importing them registers them with Celery.
from fus.carousels.tasks import run_carousel, watchdog  # noqa: E402, F401
from fus.rollouts.tasks import advance, tick_all  # noqa: E402, F401
