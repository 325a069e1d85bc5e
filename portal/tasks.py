"""Portal-wide Celery tasks."""

import socket

from celery import shared_task
from django.utils import timezone


@shared_task(name="portal.ping")
def ping(**kwargs) -> dict:
    """Proves a worker is consuming the broker (used by health checks and tests)."""
    return {"host": socket.gethostname(), "at": timezone.now().isoformat()}
