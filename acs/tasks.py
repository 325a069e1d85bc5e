"""Celery tasks of the ACS (queue `acs`): connection requests, session and nonce housekeeping."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="acs.connection_request", ignore_result=True)
def connection_request(device_id: int, **kwargs) -> str:
    """Ask the box for a session now (TR-069 3.2.2: HTTP GET with digest to its URL)."""
    from acs.models import Device
    from acs.services.connection import send_connection_request

    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        return "gone"
    return send_connection_request(device).outcome


@shared_task(name="acs.sessions.expire", ignore_result=True)
def expire_sessions(**kwargs) -> int:
    from acs.services.cwmp import expire_sessions as expire

    return expire()


@shared_task(name="acs.nonces.purge", ignore_result=True)
def purge_nonces(**kwargs) -> int:
    from acs.services.auth import purge_nonces as purge

    return purge()
