"""Choices of the CDS storage management (TS 102 542-4 clause 13)."""

from django.db import models

from portal.choices import AuditKind


class Service(models.TextChoices):
    """The two CDS download services, each with its own storage on the box."""

    PUSH = "push", "CDS push"
    PULL = "pull", "CDS pull"


class ReferenceKind(models.TextChoices):
    """What `X_DVB_CDSPush|Pull.Reference` names within a TR-140 StorageService instance."""

    FOLDER = "folder", "Folder"
    LOGICAL_VOLUME = "logical_volume", "LogicalVolume"
    PHYSICAL_MEDIUM = "physical_medium", "PhysicalMedium"
    STORAGE_SERVICE = "storage_service", "StorageService"
    UNKNOWN = "unknown", "Unknown"
    NONE = "none", "No reference"


class OperationKind(models.TextChoices):
    REFRESH = "refresh", "Read storage"
    DELETE = "delete", "Delete content item"
    RESIZE = "resize", "Resize storage"
    CONFIGURE = "configure", "Configure storage (bulk)"


class Outcome(models.TextChoices):
    """How an operation ended; `pending` while its ACS tasks are open."""

    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    GONE = "gone", "Already gone"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class JobState(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class TargetState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    STARTED = "started", "Started"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class CdsAuditKind:
    """The CDS audit event kinds (members of portal.choices.AuditKind)."""

    REFRESH_REQUESTED = AuditKind.CDS_REFRESH_REQUESTED
    DELETE_REQUESTED = AuditKind.CDS_DELETE_REQUESTED
    ITEM_DELETED = AuditKind.CDS_ITEM_DELETED
    DELETE_FAILED = AuditKind.CDS_DELETE_FAILED
    RESIZE_REQUESTED = AuditKind.CDS_RESIZE_REQUESTED
    RESIZED = AuditKind.CDS_RESIZED
    RESIZE_FAILED = AuditKind.CDS_RESIZE_FAILED
    REFUSED = AuditKind.CDS_REFUSED
    CUSTOMER_REFERENCE_SET = AuditKind.CDS_CUSTOMER_REFERENCE_SET
    JOB_CREATED = AuditKind.CDS_JOB_CREATED
    JOB_STARTED = AuditKind.CDS_JOB_STARTED
    JOB_PAUSED = AuditKind.CDS_JOB_PAUSED
    JOB_CANCELLED = AuditKind.CDS_JOB_CANCELLED
