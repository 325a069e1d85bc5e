"""Roles as groups, and the model permissions each role holds.

Object scoping (which rows a role sees) is `restrict()`'s job (portal.permissions); this map only says
which actions a role may take on which models. `sync_roles()` is idempotent and runs after every
`migrate` and in `seed_demo`.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from portal.choices import Role

CRUD = ("view", "add", "change", "delete")

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.NOC: {
        "fus.manufacturer": CRUD,
        "fus.manufactureroui": CRUD,
        "fus.signingcertificate": CRUD,
        "fus.deviceclass": CRUD,
        "fus.firmwarepackage": (*CRUD, "approve"),
        "fus.firmwarefile": ("view", "add", "delete"),
        # FUS/RMS entities are edited by administrators (admin site); the NOC sees what is announced.
        "fus.fusentity": ("view",),
        "fus.rmsentity": ("view",),
        "fus.servicelocation": ("view",),
        "portal.auditevent": ("view",),
        "fus.updatereport": ("view",),
        "fus.downloadrecord": ("view",),
        "fus.rollout": (*CRUD, "operate"),
        "fus.rolloutwave": ("view",),
        "fus.rolloutdevice": ("view",),
        "fus.carousel": (*CRUD, "operate"),
        "fus.carouselrun": ("view",),
        "acs.device": CRUD,
        "acs.task": CRUD,
        "acs.deviceparameters": ("view",),
        "acs.deviceevent": ("view",),
        "acs.softwareversionchange": ("view",),
        "acs.sessiontranscript": ("view",),
        "acs.cwmpsession": ("view",),
        # CDS storage (issue 8): read, delete content, resize, configure populations.
        "cds.storagesnapshot": ("view",),
        "cds.storage": ("view", "change"),
        "cds.contentitem": ("view", "delete"),
        "cds.operation": ("view", "add"),
        "cds.customerreference": CRUD,
        "cds.configurationjob": CRUD,
        "cds.jobtarget": ("view",),
        # Home-network configurator (issue 9): profiles, variables, compliance.
        "homenet.profile": CRUD,
        "homenet.devicevariable": CRUD,
        "homenet.compliance": ("view",),
    },
    Role.HELPDESK: {
        "fus.manufacturer": ("view",),
        "fus.manufactureroui": ("view",),
        "fus.deviceclass": ("view",),
        "fus.firmwarepackage": ("view",),
        "fus.firmwarefile": ("view",),
        "fus.updatereport": ("view",),
        "fus.rollout": ("view",),
        "fus.rolloutdevice": ("view",),
        # Operate devices: queue and cancel tasks (refresh, set value, reboot, push firmware, ...).
        "acs.device": ("view", "change"),
        "acs.task": ("view", "add", "change"),
        "acs.deviceparameters": ("view",),
        "acs.deviceevent": ("view",),
        "acs.softwareversionchange": ("view",),
        "acs.sessiontranscript": ("view",),
        # CDS storage of a customer's box: read, delete content (with a reason), resize a Folder.
        "cds.storagesnapshot": ("view",),
        "cds.storage": ("view", "change"),
        "cds.contentitem": ("view", "delete"),
        "cds.operation": ("view", "add"),
        "cds.customerreference": ("view", "add", "change"),
        "homenet.profile": ("view",),
        "homenet.compliance": ("view",),
    },
    # A supplier's rows are further limited to its own manufacturer(s) by restrict().
    Role.SUPPLIER: {
        "fus.manufacturer": ("view",),
        "fus.manufactureroui": ("view",),
        "fus.signingcertificate": ("view", "add", "delete"),
        "fus.deviceclass": ("view", "add", "change"),
        "fus.firmwarepackage": CRUD,
        "fus.firmwarefile": ("view", "add"),
        "fus.updatereport": ("view",),
        # Their firmware's rollouts and outcomes (read-only).
        "fus.rollout": ("view",),
        "fus.rolloutwave": ("view",),
        "fus.rolloutdevice": ("view",),
        "acs.device": ("view",),
        "acs.task": ("view",),
        "acs.softwareversionchange": ("view",),
    },
}


def _permission(label: str, action: str) -> Permission:
    app_label, model = label.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}")


@transaction.atomic
def sync_roles() -> None:
    """Create the role groups and give each exactly its permissions (admin: every permission)."""
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        if role == Role.ADMIN:
            group.permissions.set(Permission.objects.all())
            continue
        perms = [
            _permission(label, action)
            for label, actions in ROLE_PERMISSIONS[role].items()
            for action in actions
        ]
        group.permissions.set(perms)


def user_roles(user) -> frozenset[str]:
    """The role names of a user, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_portal_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True)) & {r.value for r in Role}
        if user.is_superuser:
            names.add(Role.ADMIN.value)
        cached = frozenset(names)
        user._portal_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & {str(r) for r in roles})


def is_supplier(user) -> bool:
    """Suppliers are scoped to their manufacturers, even if they also hold another role."""
    return Role.SUPPLIER.value in user_roles(user) and not user.is_superuser
