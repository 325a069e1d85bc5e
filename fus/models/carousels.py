"""Multicast carousels (interfaces 5 and 7): what the FUS sends, where, how fast, and how it runs.

A `Carousel` is the operator's configuration (change-logged): its kind (SAP or DVBSTP announcements,
FLUTE or DSM-CC file delivery), the group, port, source, TTL, interface and rate, and its contents
(firmware packages; for DVBSTP also the FUS stub file and SD&S record). `desired_running` is the
operator's intent; `fus.services.carousels` turns it into a Celery task on the `carousel` queue.
`CarouselRun` is the live state the running loop writes (heartbeat, counters, errors): not
change-logged, written every few seconds. See docs/multicast.md.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from fus.models.catalogue import FirmwarePackage
from portal.models import ChangeLoggedModel


class CarouselKind(models.TextChoices):
    SAP = "sap", "SAP/SDP announcements"
    DVBSTP = "dvbstp", "DVBSTP announcements (metadata XML, stub, SD&S)"
    FLUTE = "flute", "FLUTE file carousel"
    DSMCC = "dsmcc", "DSM-CC data carousel (MPEG-2 TS)"


ANNOUNCEMENT_KINDS = frozenset({CarouselKind.SAP, CarouselKind.DVBSTP})
DELIVERY_KINDS = frozenset({CarouselKind.FLUTE, CarouselKind.DSMCC})


class CarouselState(models.TextChoices):
    STOPPED = "stopped", "Stopped"
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    ERROR = "error", "Error"


class Carousel(ChangeLoggedModel):
    """One multicast sender: a channel (group, port) with its contents, rate and TTL."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=CarouselKind.choices)
    group = models.GenericIPAddressField("multicast group")
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    source_address = models.GenericIPAddressField(
        "source address",
        null=True,
        blank=True,
        help_text="Announced as the source (SSM, a=source-filter); also the SAP origin.",
    )
    ttl = models.PositiveSmallIntegerField(
        "TTL",
        default=1,
        validators=[MaxValueValidator(255)],
        help_text="Multicast hops (0: host only).",
    )
    interface = models.GenericIPAddressField(
        "interface address",
        null=True,
        blank=True,
        help_text="Local address of the interface to send from (IP_MULTICAST_IF); empty: the default route.",
    )
    rate_bps = models.PositiveBigIntegerField(
        "rate (bit/s)",
        default=1_000_000,
        validators=[MinValueValidator(1000)],
        help_text="Payload bits per second the carousel paces to (UDP payload).",
    )
    packages = models.ManyToManyField(
        FirmwarePackage,
        blank=True,
        related_name="carousels",
        help_text="Files to carry (FLUTE, DSM-CC) or updates to announce (SAP, DVBSTP); approved "
        "packages only are sent.",
    )
    include_stub = models.BooleanField(
        "FUS stub and SD&S",
        default=False,
        help_text="DVBSTP: also send the FUS stub file and the SD&S RMS-FUS record (PayloadID 0x08).",
    )
    tsi = models.PositiveBigIntegerField(
        "FLUTE TSI", default=1, validators=[MaxValueValidator(2**32 - 1)]
    )
    flute_version = models.PositiveSmallIntegerField(
        "FLUTE version",
        default=1,
        choices=[(1, "RFC 3926 (v1)"), (2, "RFC 6726 (v2)")],
    )
    pid = models.PositiveIntegerField(
        "DSM-CC PID", default=0x100, validators=[MinValueValidator(0x20), MaxValueValidator(0x1FFE)]
    )
    carousel_id = models.PositiveBigIntegerField(
        "DSM-CC carousel id", default=1, validators=[MaxValueValidator(2**32 - 1)]
    )
    service_id = models.PositiveIntegerField(
        "DSM-CC service id", default=1, validators=[MaxValueValidator(0xFFFF)]
    )
    desired_running = models.BooleanField(
        default=False,
        editable=False,
        help_text="The operator started it (the watchdog keeps it running).",
    )

    tenant_path = None
    changelog_exclude = ("created", "updated")

    class Meta:
        ordering = ("name",)
        permissions = [("operate_carousel", "Can start and stop carousels")]
        constraints = [
            models.UniqueConstraint(fields=["group", "port"], name="fus_carousel_channel_unique"),
            models.CheckConstraint(
                condition=models.Q(port__gte=1, port__lte=65535), name="fus_carousel_port_range"
            ),
            models.CheckConstraint(condition=models.Q(ttl__lte=255), name="fus_carousel_ttl_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("fus:carousel", args=[self.pk])

    def clean(self) -> None:
        import ipaddress

        from fus.multicast.uri import is_group

        errors = {}
        if self.group:
            group = ipaddress.ip_address(self.group)
            if not is_group(group):
                errors["group"] = f"{self.group} is not a multicast address."
            if (
                self.source_address
                and ipaddress.ip_address(self.source_address).version != group.version
            ):
                errors["source_address"] = "The source must be of the group's IP version."
            if self.interface and ipaddress.ip_address(self.interface).version != group.version:
                errors["interface"] = "The interface address must be of the group's IP version."
        if self.kind == CarouselKind.DVBSTP and self.include_stub and self.port != 3937:
            errors["port"] = "The FUS stub is sent on port 3937 (dvbservdsc, TS 102 034 9.1.1)."
        if errors:
            raise ValidationError(errors)

    @property
    def is_announcement(self) -> bool:
        return self.kind in ANNOUNCEMENT_KINDS


class CarouselRun(models.Model):
    """The live state of a carousel, written by its running loop (and the watchdog)."""

    carousel = models.OneToOneField(Carousel, on_delete=models.CASCADE, related_name="run")
    run_id = models.UUIDField(default=uuid.uuid4, help_text="The current run; older loops stop.")
    state = models.CharField(
        max_length=10, choices=CarouselState.choices, default=CarouselState.STOPPED
    )
    worker = models.CharField(max_length=200, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    content_version = models.PositiveIntegerField(default=0)
    content_fingerprint = models.CharField(max_length=64, blank=True)
    cycles = models.PositiveBigIntegerField(default=0)
    packets = models.PositiveBigIntegerField(default=0)
    bytes_sent = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    bitrate_bps = models.FloatField(default=0)
    cycle_seconds = models.FloatField(default=0)
    last_error = models.TextField(blank=True)

    tenant_path = None

    class Meta:
        verbose_name = "carousel run state"

    def __str__(self) -> str:
        return f"{self.carousel}: {self.state}"
