"""Who may do what with a box's CDS storage: the model permission of the act, and the device
reachable through `restrict()` (404 for a box the user may not see, 403 for one it may only see)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from acs.models import Device
from cds.models import ConfigurationJob, ContentItem, Operation, Storage
from portal.permissions import can, get_for_user_or_404

#: act -> (model, action) the user needs, on top of `change` on the device for every act.
ACTS = {
    "view": (Storage, "view"),
    "refresh": (Operation, "add"),
    "delete": (ContentItem, "delete"),
    "resize": (Storage, "change"),
    "jobs": (ConfigurationJob, "change"),
}


def may(user, act: str) -> bool:
    model, action = ACTS[act]
    return can(user, model, action)


def visible_device(user, pk) -> Device:
    """The device if `user` may see it and its CDS storage (else 404)."""
    device = get_for_user_or_404(Device.objects.all(), user, "view", pk=pk)
    if not may(user, "view"):
        raise PermissionDenied
    return device


def actable_device(user, pk, act: str) -> Device:
    """The device if `user` may see it (else 404) and take `act` on it (else 403)."""
    device = visible_device(user, pk)
    if not may(user, act) or not Device.objects.restrict(user, "change").filter(pk=pk).exists():
        raise PermissionDenied
    return device


def acts_for(user, device: Device) -> dict[str, bool]:
    changeable = Device.objects.restrict(user, "change").filter(pk=device.pk).exists()
    return {act: changeable and may(user, act) for act in ("refresh", "delete", "resize")}
