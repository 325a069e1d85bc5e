"""Choices of the firmware catalogue (names as in TS 102 542-4 clause 7 where it has them)."""

from django.db import models


class FirmwareStatus(models.TextChoices):
    """Lifecycle: draft -> validated -> approved -> retired (see fus.services.catalogue)."""

    DRAFT = "draft", "Draft"
    VALIDATED = "validated", "Validated"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class UpdateFlag(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATIC = "automatic", "Automatic"


class UpdateMethod(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate"
    USER_CONVENIENCE = "user_convenience", "At user convenience"
    NEXT_RESTART = "next_restart", "At next restart"


class UpdatePriority(models.IntegerChoices):
    """1 is the most urgent (clause 7, UpdateDescriptor)."""

    CRITICAL = 1, "1 - critical"
    HIGH = 2, "2 - high"
    NORMAL = 3, "3 - normal"
    LOW = 4, "4 - low"


class MetadataMode(models.TextChoices):
    """RMSFUSMetadata Mode (7.4.1): for managed (TR-069) or unmanaged boxes."""

    MANAGED = "managed", "Managed (TR-069)"
    UNMANAGED = "unmanaged", "Unmanaged"
