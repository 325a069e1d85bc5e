"""Choices of staged rollouts (issue #7)."""

from django.db import models


class RolloutStatus(models.TextChoices):
    """Lifecycle: draft -> running <-> paused; running -> halted (stop rule) | completed;
    any active state -> cancelled (queued work withdrawn) | deactivating -> deactivated (in-flight
    devices finish, nothing new starts)."""

    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    HALTED = "halted", "Halted"
    DEACTIVATING = "deactivating", "Deactivating"
    DEACTIVATED = "deactivated", "Deactivated"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


#: States in which the engine still collects outcomes of devices in flight.
COLLECTING = (
    RolloutStatus.RUNNING,
    RolloutStatus.PAUSED,
    RolloutStatus.HALTED,
    RolloutStatus.DEACTIVATING,
)
#: States in which released waves are announced (QRC answers, multicast RangeList).
ANNOUNCING = (RolloutStatus.RUNNING, RolloutStatus.COMPLETED)
#: States after which nothing more happens.
FINAL = (RolloutStatus.CANCELLED, RolloutStatus.COMPLETED, RolloutStatus.DEACTIVATED)


class Channel(models.TextChoices):
    """How a device of the rollout gets the firmware."""

    MANAGED = "managed", "Managed (CWMP Download)"
    AUTONOMOUS = "autonomous", "RMS-FUS autonomous (AutonomousTransferComplete)"
    UNMANAGED = "unmanaged", "Unmanaged (QRC and multicast announcements)"


class Assignment(models.TextChoices):
    """How the population is ordered into waves (both deterministic, stable and disjoint)."""

    SPREAD = "spread", "Spread (hash of rollout and device)"
    SERIAL = "serial", "Serial blocks (contiguous serial ranges per device class)"


class GateMode(models.TextChoices):
    AUTO = "auto", "Advance automatically on the success criterion"
    APPROVAL = "approval", "Advance on approval of each wave"


class WaveState(models.TextChoices):
    PENDING = "pending", "Pending"
    RELEASED = "released", "Released"
    DONE = "done", "Done"


class DeviceState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    SKIPPED = "skipped", "Skipped"


#: Device states that are an outcome (counted by the stop rule and the wave gate).
OUTCOMES = (DeviceState.SUCCEEDED, DeviceState.FAILED, DeviceState.TIMED_OUT)
FINISHED = (*OUTCOMES, DeviceState.SKIPPED)


class OutcomeSource(models.TextChoices):
    """Where an outcome came from."""

    DOWNLOAD = "download", "CWMP Download (TransferComplete and version check)"
    AUTONOMOUS = "autonomous", "AutonomousTransferComplete"
    REPORT = "report", "Update report"
    INFORM = "inform", "SoftwareVersion in an Inform"
    TIMEOUT = "timeout", "No outcome in time"
    ENGINE = "engine", "Rollout engine"
