"""CDS storage per set-top box: the snapshot read from the box, the operations the help desk asks
for (each carried by ACS tasks), customer references, and bulk configuration jobs.

The snapshot is what the box last said (with the time it said it), kept in indexed columns so that
fleet-wide questions ("whose push storage is nearly full?") never scan parameter trees. It changes
only through `cds.services`, which read it from the ACS parameter tree when a task of theirs ends.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from acs.choices import OPEN_TASK_STATES
from acs.models import Device, Task
from cds.choices import JobState, OperationKind, Outcome, ReferenceKind, Service, TargetState
from portal.models import ChangeLoggedModel
from portal.permissions import RestrictedQuerySet

TENANT = "device__device_class__manufacturer"


class CustomerReference(ChangeLoggedModel):
    """The operator's customer reference (contract or account number) of a box, for the help desk.

    The ACS registry has no such field; the mapping lives here, one reference per box (a customer
    may have several boxes). Change-logged like catalogue rows.
    """

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="customer")
    reference = models.CharField(max_length=64, db_index=True)

    tenant_path = TENANT

    class Meta:
        ordering = ("reference",)

    def __str__(self) -> str:
        return f"{self.reference} ({self.device})"


class StorageSnapshot(models.Model):
    """What the box last reported about CDS: capabilities and the user's pull consent."""

    device = models.OneToOneField(
        Device, primary_key=True, on_delete=models.CASCADE, related_name="cds_snapshot"
    )
    push_capable = models.BooleanField(null=True, blank=True)
    pull_capable = models.BooleanField(null=True, blank=True)
    consent = models.BooleanField(
        "pull management consent",
        null=True,
        blank=True,
        help_text="X_DVB_CDSPull.RMSManagementEnabled as last read (None: never read).",
    )
    consent_read = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last complete read of the storages ended."
    )
    error = models.CharField(max_length=500, blank=True, help_text="Why the last read failed.")
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = TENANT

    def __str__(self) -> str:
        return f"CDS snapshot of {self.device_id}"

    @property
    def age(self):
        return timezone.now() - self.read_at if self.read_at else None


class Storage(models.Model):
    """One CDS storage (push or pull) of a box: its TR-140 reference, capacity and used space."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="cds_storages")
    service = models.CharField(max_length=8, choices=Service.choices)
    reference = models.CharField(max_length=256, blank=True)
    kind = models.CharField(
        max_length=16, choices=ReferenceKind.choices, default=ReferenceKind.NONE
    )
    name = models.CharField(max_length=256, blank=True)
    capacity_mb = models.BigIntegerField("capacity (MB)", null=True, blank=True)
    used_mb = models.BigIntegerField("used (MB)", null=True, blank=True)
    fill_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="used / capacity, for the nearly-full report (indexed)."
    )
    usage_read = models.DateTimeField(null=True, blank=True)
    items_read = models.DateTimeField(null=True, blank=True)
    items_visible = models.BooleanField(
        default=True, help_text="False for a pull storage without the user's consent."
    )

    objects = RestrictedQuerySet.as_manager()
    tenant_path = TENANT

    class Meta:
        ordering = ("device", "service")
        constraints = [
            models.UniqueConstraint(fields=["device", "service"], name="cds_storage_unique")
        ]
        indexes = [models.Index(fields=["service", "fill_percent"], name="cds_storage_fill_idx")]

    def __str__(self) -> str:
        return f"{self.get_service_display()} storage of {self.device_id}"

    @property
    def free_mb(self) -> int | None:
        if self.capacity_mb is None or self.used_mb is None:
            return None
        return max(0, self.capacity_mb - self.used_mb)

    def set_usage(self, capacity_mb: int | None, used_mb: int | None) -> None:
        self.capacity_mb, self.used_mb = capacity_mb, used_mb
        if capacity_mb and used_mb is not None:
            self.fill_percent = min(100, used_mb * 100 // capacity_mb)
        else:
            self.fill_percent = None


class ContentItem(models.Model):
    """A content item of a storage, as the box last listed it."""

    storage = models.ForeignKey(Storage, on_delete=models.CASCADE, related_name="items")
    instance = models.PositiveIntegerField(help_text="The Content.Item.{i} instance number.")
    crid = models.CharField("ContentReferenceId", max_length=256, blank=True)
    version = models.PositiveSmallIntegerField("VersionNumber", null=True, blank=True)
    title = models.CharField(max_length=256, blank=True)
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of all its files.")
    seen = models.DateTimeField(default=timezone.now)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "storage__" + TENANT

    class Meta:
        ordering = ("storage", "instance")
        constraints = [
            models.UniqueConstraint(fields=["storage", "instance"], name="cds_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.crid or '?'} (item {self.instance})"


class Operation(models.Model):
    """One act on a box's CDS storage (read, delete an item, resize, configure), carried by one or
    more ACS tasks (`OperationTask`). Pending while a task of it is open."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="cds_operations")
    kind = models.CharField(max_length=12, choices=OperationKind.choices)
    service = models.CharField(max_length=8, choices=Service.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Why (required to delete).")
    details = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    job_target = models.OneToOneField(
        "cds.JobTarget", null=True, blank=True, on_delete=models.SET_NULL, related_name="operation"
    )

    objects = RestrictedQuerySet.as_manager()
    tenant_path = TENANT

    class Meta:
        ordering = ("-created", "-pk")
        indexes = [models.Index(fields=["device", "outcome"], name="cds_op_device_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.outcome})"


class OperationTask(models.Model):
    """An ACS task carrying one step of an operation (the link the task-finished handler follows)."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="steps")
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="cds_step")
    step = models.CharField(max_length=24)
    handled = models.BooleanField(default=False)

    class Meta:
        ordering = ("operation", "pk")

    def __str__(self) -> str:
        return f"{self.step} of operation {self.operation_id} (task {self.task_id})"

    @property
    def is_open(self) -> bool:
        return self.task.state in OPEN_TASK_STATES


class ConfigurationJob(models.Model):
    """Configure one CDS storage's Folder quota across a population, a few boxes a minute."""

    name = models.CharField(max_length=100)
    service = models.CharField(max_length=8, choices=Service.choices)
    capacity_mb = models.PositiveIntegerField("quota (MB)")
    device_class = models.ForeignKey(
        "fus.DeviceClass", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    software_version = models.CharField(max_length=64, blank=True)
    tag = models.CharField(max_length=64, blank=True)
    rate_per_minute = models.PositiveIntegerField(default=60)
    max_in_flight = models.PositiveIntegerField(default=200)
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    last_tick = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device_class__manufacturer"

    class Meta:
        ordering = ("-created", "-pk")

    def __str__(self) -> str:
        return self.name


class JobTarget(models.Model):
    """One box of a configuration job and how it went."""

    job = models.ForeignKey(ConfigurationJob, on_delete=models.CASCADE, related_name="targets")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=8, choices=TargetState.choices, default=TargetState.WAITING)
    message = models.CharField(max_length=500, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("job", "pk")
        constraints = [
            models.UniqueConstraint(fields=["job", "device"], name="cds_job_target_unique")
        ]
        indexes = [models.Index(fields=["job", "state", "id"], name="cds_target_state_idx")]

    def __str__(self) -> str:
        return f"{self.device_id} in job {self.job_id}: {self.state}"
