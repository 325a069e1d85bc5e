"""CWMP sessions in the database: any web process serves the next POST of a session.

`CwmpSession.device` is unique: one session per device at a time (the lock). `CwmpNonce` records
the highest nonce count seen for each digest nonce, so a replayed request is refused by any process.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from acs.models.devices import Device
from portal.permissions import RestrictedQuerySet


class CwmpSession(models.Model):
    """A live CWMP session: its cookie token and the serialised `acs.cwmp.session.SessionState`."""

    token = models.CharField(max_length=64, unique=True)
    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="cwmp_session")
    state = models.JSONField(default=dict)
    transcript = models.JSONField(default=list, blank=True)
    started = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    def __str__(self) -> str:
        return f"session of device {self.device_id} since {self.started:%H:%M:%S}"


class SessionTranscript(models.Model):
    """What was said in one finished session (the last CWMP_TRANSCRIPTS per device, each capped)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="transcripts")
    started = models.DateTimeField()
    ended = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)
    entries = models.JSONField(
        default=list, help_text='[{"at": iso, "direction": "in"|"out", "status": int, "body": str}]'
    )
    truncated = models.BooleanField(default=False)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    class Meta:
        ordering = ("-ended", "-pk")
        indexes = [models.Index(fields=["device", "-ended"], name="acs_transcript_device_idx")]

    def __str__(self) -> str:
        return f"session of device {self.device_id} at {self.started:%Y-%m-%d %H:%M:%S}"


class CwmpNonce(models.Model):
    """A digest nonce that has been used, with the highest nonce count (nc) accepted for it."""

    nonce = models.CharField(max_length=128, primary_key=True)
    nc = models.BigIntegerField()
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.nonce} nc={self.nc}"
