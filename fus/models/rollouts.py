"""Staged rollouts (issue #7): a firmware package shipped to a population wave by wave.

A `Rollout` holds the whole plan: target, channels, stages, schedule, rate limits, gate and stop
rule. Planning (`fus.rollouts.plan`) writes one `RolloutWave` per stage: its size, first rank and
the plan-order key of its last device (deterministic: a hash of rollout and device, or serial
order), so each wave is an exact slice of the population. A wave's `RolloutDevice` rows are
written when it is released (one INSERT ... SELECT); boxes outside the inventory are added when they
report. The engine (`fus.rollouts.engine`) moves devices through their states and waves through
theirs; the serial
ranges released so far for boxes outside the inventory are `RolloutRange` rows, which the QRC and
the carousels read through `fus.rollouts.gate`. `RolloutSample` is the time series of the counts
for the progress chart. See docs/rollouts.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from fus.models.catalogue import DeviceClass, FirmwarePackage
from fus.rollouts.choices import (
    Assignment,
    Channel,
    DeviceState,
    GateMode,
    OutcomeSource,
    RolloutStatus,
    WaveState,
)
from portal.fields import BytewiseCharField
from portal.models import ChangeLoggedModel
from portal.permissions import RestrictedQuerySet


class Rollout(ChangeLoggedModel):
    """A staged rollout of one firmware package (plan, schedule, limits, gate, stop rule, state).

    Change-logged: edits of a draft show in its history; state changes are made by
    `fus.rollouts.services` only and audited as operational acts."""

    name = models.CharField(max_length=120)
    package = models.ForeignKey(FirmwarePackage, on_delete=models.PROTECT, related_name="rollouts")
    status = models.CharField(
        max_length=12, choices=RolloutStatus.choices, default=RolloutStatus.DRAFT, db_index=True
    )
    # Channels.
    channels = models.JSONField(
        default=list, help_text=f"Some of {', '.join(Channel.values)}: how devices get the image."
    )
    # Target: the package's population, narrowed by these (all optional; empty = no narrowing).
    device_classes = models.ManyToManyField(DeviceClass, blank=True, related_name="+")
    from_versions = models.JSONField(default=list, blank=True, help_text="SoftwareVersions now.")
    hardware_versions = models.JSONField(default=list, blank=True)
    range_list = models.TextField(
        blank=True,
        help_text='Serial/MAC RangeList, one entry per line: "include serial 100-199", '
        '"exclude mac 00:d0:9e:00:00:00-00:d0:9e:00:00:ff", "include serial 7,8,9".',
    )
    tags = models.JSONField(default=list, blank=True, help_text="Devices with any of these tags.")
    saved_filter = models.ForeignKey(
        "portal.SavedFilter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    device_query = models.TextField(
        blank=True, help_text="The saved search's query string, as it was when planned."
    )
    assignment = models.CharField(
        max_length=8, choices=Assignment.choices, default=Assignment.SPREAD
    )
    # Plan: [{"name": "canary", "count": 10} | {"name": "wave 1", "percent": 25}, ...]; whatever
    # the stages leave goes to a last wave.
    stages = models.JSONField(default=list)
    # Schedule.
    start_at = models.DateTimeField(null=True, blank=True, help_text="Nothing starts before.")
    end_at = models.DateTimeField(
        null=True, blank=True, help_text="Validity: nothing starts and nothing is announced after."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    windows = models.JSONField(
        default=list,
        blank=True,
        help_text='Maintenance windows: [{"days": [0..6, Monday = 0], "start": "02:00", '
        '"end": "05:00"}] in the time zone; empty = always.',
    )
    disruptive_windows = models.JSONField(
        default=list,
        blank=True,
        help_text="Windows for disruptive steps (a CWMP Download reboots the box); "
        "empty = the maintenance windows.",
    )
    # Rate limits (managed Downloads).
    max_concurrent = models.PositiveIntegerField(default=100)
    starts_per_minute = models.PositiveIntegerField(default=60)
    jitter_seconds = models.PositiveIntegerField(
        default=0, help_text="Connection requests spread over this many seconds."
    )
    # Gate between waves.
    gate = models.CharField(max_length=8, choices=GateMode.choices, default=GateMode.AUTO)
    success_threshold = models.PositiveSmallIntegerField(
        default=95, help_text="Percent of a wave that must succeed before the next one starts."
    )
    soak_minutes = models.PositiveIntegerField(
        default=0, help_text="Wait after a wave has finished before the next one starts."
    )
    # Stop rule.
    failure_threshold = models.PositiveSmallIntegerField(
        default=10, help_text="Halt when this percent of recent outcomes are failures."
    )
    failure_window_minutes = models.PositiveIntegerField(default=60)
    min_sample = models.PositiveIntegerField(
        default=10, help_text="Outcomes needed in the window before the stop rule can trip."
    )
    count_timeouts = models.BooleanField(
        default=True, help_text="Count silent failures (time-outs) with the confirmed ones."
    )
    device_timeout_minutes = models.PositiveIntegerField(
        default=240, help_text="A device with no outcome after this long has timed out."
    )
    # State.
    current_wave = models.IntegerField(default=-1, help_text="The last released wave (-1: none).")
    released_all = models.BooleanField(
        default=False, help_text="The last wave is released: every targeted box is announced."
    )
    halt_reason = models.TextField(blank=True)
    stop_rule_from = models.DateTimeField(
        null=True, blank=True, help_text="Outcomes before this (a resume) do not count."
    )
    planned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_tick = models.DateTimeField(null=True, blank=True)
    # High-water marks of the outcome sources read incrementally by the engine.
    reports_seen = models.BigIntegerField(default=0, editable=False)
    events_seen = models.BigIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "package__manufacturer"
    changelog_exclude = (
        "created",
        "updated",
        "last_tick",
        "reports_seen",
        "events_seen",
        "current_wave",
        "released_all",
        "status",
        "halt_reason",
        "started_at",
        "finished_at",
        "planned_at",
        "stop_rule_from",
    )

    class Meta:
        ordering = ("-created", "-pk")
        permissions = [("operate_rollout", "Can start, pause, resume, cancel rollouts")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("rollouts:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in (
            RolloutStatus.RUNNING,
            RolloutStatus.PAUSED,
            RolloutStatus.HALTED,
            RolloutStatus.DEACTIVATING,
        )


class RolloutWave(models.Model):
    """One stage of a rollout's plan (wave 0 is the canary when the plan starts with one)."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=60)
    size = models.PositiveIntegerField(
        help_text="Devices of the inventory in this wave: as planned until it is released, then "
        "as written."
    )
    first_rank = models.BigIntegerField(default=1, help_text="Plan rank of its first device.")
    last_key = models.JSONField(
        null=True,
        blank=True,
        help_text="Plan-order key of its last device (null: the last wave, every device after).",
    )
    state = models.CharField(max_length=8, choices=WaveState.choices, default=WaveState.PENDING)
    released_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "rollout__package__manufacturer"

    class Meta:
        ordering = ("rollout", "number")
        constraints = [
            models.UniqueConstraint(fields=["rollout", "number"], name="fus_rolloutwave_number")
        ]

    def __str__(self) -> str:
        return f"{self.rollout} / {self.name}"


class RolloutDevice(models.Model):
    """One box of a rollout: its wave and its fate. Boxes of the inventory are planned; boxes
    outside it (unmanaged, known only by their update reports) are added when they report."""

    # No single-column index on rollout: the unique constraint and the indexes below lead with it
    # (every index costs at the INSERT ... SELECT of a released wave).
    rollout = models.ForeignKey(
        Rollout, on_delete=models.CASCADE, related_name="members", db_index=False
    )
    device = models.ForeignKey(
        "acs.Device", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    oui = models.CharField(max_length=6)
    product_class = models.CharField(max_length=64)
    serial_number = models.CharField(max_length=64)
    serial_key = BytewiseCharField(max_length=80, default="")
    wave = models.PositiveSmallIntegerField()
    rank = models.BigIntegerField(help_text="Order of the device in the plan (1 = first).")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    state = models.CharField(
        max_length=10, choices=DeviceState.choices, default=DeviceState.PENDING
    )
    task = models.ForeignKey(
        "acs.Task",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # partial index below: only managed boxes with a Download have one
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=OutcomeSource.choices, blank=True)
    confirmed = models.BooleanField(
        default=False, help_text="A confirmed failure (fault, failed transfer, failure report)."
    )
    fault_code = models.IntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "rollout__package__manufacturer"

    class Meta:
        ordering = ("rollout", "rank")
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "oui", "product_class", "serial_number"],
                name="fus_rolloutdevice_unique",
            )
        ]
        indexes = [
            models.Index(fields=["rollout", "wave", "state"], name="fus_rolloutdev_wave"),
            models.Index(fields=["rollout", "state", "channel"], name="fus_rolloutdev_state"),
            models.Index(fields=["rollout", "finished_at"], name="fus_rolloutdev_finished"),
            models.Index(
                fields=["task"], name="fus_rolloutdev_task", condition=models.Q(task__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.oui}-{self.product_class}-{self.serial_number} ({self.state})"


class RolloutRange(models.Model):
    """A serial range of a device class released by a wave (inclusive bounds as written, and
    their ordering keys): boxes outside the inventory in it are announced and answered."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="ranges")
    wave = models.PositiveSmallIntegerField()
    oui = models.CharField(max_length=6)
    product_class = models.CharField(max_length=64)
    lower = models.CharField(max_length=64)
    upper = models.CharField(max_length=64)
    serial_lo = BytewiseCharField(max_length=80)
    serial_hi = BytewiseCharField(max_length=80)

    class Meta:
        ordering = ("rollout", "oui", "product_class", "serial_lo")
        indexes = [
            models.Index(
                fields=["rollout", "oui", "product_class", "serial_lo"], name="fus_rolloutrange_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.oui}-{self.product_class} {self.lower}..{self.upper}"


class RolloutSample(models.Model):
    """The rollout's counts at one engine tick (written when they changed): the progress chart."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    pending = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    timed_out = models.PositiveIntegerField(default=0)
    failure_rate = models.FloatField(
        null=True, blank=True, help_text="The stop rule's failure percent over its window."
    )

    class Meta:
        ordering = ("rollout", "at")
        indexes = [models.Index(fields=["rollout", "at"], name="fus_rolloutsample_idx")]

    def __str__(self) -> str:
        return f"{self.rollout_id} @ {self.at:%H:%M:%S}"
