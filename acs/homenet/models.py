"""Configuration profiles, per-device variables and per-device compliance (docs/homenet.md)."""

from __future__ import annotations

from django.db import models

from acs.homenet.choices import ComplianceState, Layer
from portal.models import ChangeLoggedModel
from portal.permissions import RestrictedQuerySet


class Profile(ChangeLoggedModel):
    """A declarative desired state for the devices it applies to (`acs.homenet.converge`).

    `values`: ``[{"path", "value", "type"}]`` (``*`` instance wildcards, ``{variables}``);
    `objects`: ``[{"table", "match": [{"name", "value", "type"}], "present", "settings": [...]}]``.
    Preconditions: device classes (none = any), software versions (none = any), tags (all of them).
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    layer = models.CharField(max_length=16, choices=Layer.choices, default=Layer.GATEWAY)
    priority = models.IntegerField(
        default=0, help_text="The highest wins a path; equal priorities that disagree conflict."
    )
    enabled = models.BooleanField(default=True)
    device_classes = models.ManyToManyField(
        "fus.DeviceClass", blank=True, related_name="homenet_profiles"
    )
    software_versions = models.JSONField(default=list, blank=True)
    tags = models.JSONField(
        default=list, blank=True, help_text="The device must carry all of them."
    )
    triggers = models.JSONField(default=list, blank=True)
    schedule_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="With the schedule trigger: re-apply every N minutes."
    )
    values = models.JSONField(default=list, blank=True)
    objects_rules = models.JSONField("objects", default=list, blank=True)
    library = models.BooleanField(
        default=False, editable=False, help_text="Shipped by load_profile_library."
    )

    tenant_path = None  # operator configuration: suppliers never see profiles

    class Meta:
        ordering = ("-priority", "name")

    def __str__(self) -> str:
        return self.name


class DeviceVariable(models.Model):
    """A custom per-device variable for profile templates (``{name}``)."""

    device = models.ForeignKey("acs.Device", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)
    value = models.CharField(max_length=256, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "name"], name="homenet_variable_unique")
        ]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.name}"


class Compliance(models.Model):
    """Where one device stands against its profiles, and the convergence in flight."""

    device = models.OneToOneField(
        "acs.Device", primary_key=True, on_delete=models.CASCADE, related_name="homenet_compliance"
    )
    state = models.CharField(
        max_length=12, choices=ComplianceState.choices, default=ComplianceState.UNKNOWN
    )
    evaluated = models.DateTimeField(null=True, blank=True)
    last_inform = models.DateTimeField(null=True, blank=True, help_text="Last Inform handled.")
    profiles = models.JSONField(default=list, blank=True)
    changes = models.JSONField(default=list, blank=True, help_text="The plan, for people.")
    conflicts = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    fault_code = models.IntegerField(null=True, blank=True)
    fault_string = models.TextField(blank=True)
    fault_details = models.JSONField(default=list, blank=True)
    rounds = models.PositiveSmallIntegerField(default=0)
    pending = models.JSONField(
        default=dict,
        blank=True,
        help_text="Tasks in flight: {tasks: [...], adds: {task: index}, numbers: {...}, plan}.",
    )

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    class Meta:
        indexes = [models.Index(fields=["state"], name="homenet_compliance_state_idx")]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.state}"
