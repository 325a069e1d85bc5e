"""Choices of the home-network configurator."""

from django.db import models


class Layer(models.TextChoices):
    """IEC 62608-1's layered management model: the gateway, and the devices behind it."""

    GATEWAY = "gateway", "Gateway (WAN, LAN/DHCP, Wi-Fi, IGMP, QoS)"
    END_DEVICE = "end_device", "End device (STB A/V, sensors)"


class Trigger(models.TextChoices):
    """When a profile is applied: Inform events (TR-069 3.7.1.5) or a schedule."""

    BOOTSTRAP = "bootstrap", "0 BOOTSTRAP"
    BOOT = "boot", "1 BOOT"
    PERIODIC = "periodic", "2 PERIODIC"
    VALUE_CHANGE = "value_change", "4 VALUE CHANGE"
    SCHEDULE = "schedule", "Schedule"


#: Inform event code -> trigger
EVENT_TRIGGERS = {
    "0 BOOTSTRAP": Trigger.BOOTSTRAP,
    "1 BOOT": Trigger.BOOT,
    "2 PERIODIC": Trigger.PERIODIC,
    "4 VALUE CHANGE": Trigger.VALUE_CHANGE,
}


class ComplianceState(models.TextChoices):
    UNKNOWN = "unknown", "Not evaluated"
    IN_SYNC = "in_sync", "In sync"
    DRIFTED = "drifted", "Drifted"
    CONVERGING = "converging", "Converging"
    FAILED = "failed", "Failed"
    CONFLICT = "conflict", "Conflict"
