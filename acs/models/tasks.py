"""ACS tasks: an ordered queue of RPCs per device, sent in CWMP sessions (acs.services.tasks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from acs.choices import TaskRpc, TaskState
from acs.models.devices import Device
from portal.permissions import RestrictedQuerySet


class Task(models.Model):
    """One ACS RPC for one device: the message (as `acs.cwmp.messages.to_dict`) and its fate."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tasks")
    rpc = models.CharField("RPC", max_length=32, choices=TaskRpc.choices)
    request = models.JSONField(help_text="The RPC message, acs.cwmp.messages.to_dict form.")
    state = models.CharField(max_length=8, choices=TaskState.choices, default=TaskState.QUEUED)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Retries: an RPC abandoned by a dropped session goes back to the queue until max_attempts.
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Backoff: not sent before.")
    expires = models.DateTimeField(null=True, blank=True, help_text="Expired if not done by then.")
    sent = models.DateTimeField(null=True, blank=True)
    completed = models.DateTimeField(null=True, blank=True)
    session_token = models.CharField(max_length=64, blank=True)
    # Outcome.
    fault_code = models.IntegerField(null=True, blank=True)
    fault_string = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Why it failed or expired.")
    # Download tasks: the package, its file, and the version the box must report afterwards.
    package = models.ForeignKey(
        "fus.FirmwarePackage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    firmware_file = models.ForeignKey(
        "fus.FirmwareFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    command_key = models.CharField(max_length=32, blank=True, db_index=True)
    expected_software_version = models.CharField(max_length=64, blank=True)
    transfer_completed = models.DateTimeField(
        null=True, blank=True, help_text="TransferComplete received; awaiting the version check."
    )

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    class Meta:
        ordering = ("device", "pk")
        indexes = [models.Index(fields=["device", "state", "id"], name="acs_task_queue_idx")]

    def __str__(self) -> str:
        return f"{self.rpc} #{self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in (TaskState.QUEUED, TaskState.SENT)
