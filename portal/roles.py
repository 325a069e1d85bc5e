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
        "portal.auditevent": ("view",),
    },
    Role.HELPDESK: {
        "fus.manufacturer": ("view",),
        "fus.manufactureroui": ("view",),
        "fus.deviceclass": ("view",),
        "fus.firmwarepackage": ("view",),
        "fus.firmwarefile": ("view",),
    },
    # A supplier's rows are further limited to its own manufacturer(s) by restrict().
    Role.SUPPLIER: {
        "fus.manufacturer": ("view",),
        "fus.manufactureroui": ("view",),
        "fus.signingcertificate": ("view", "add", "delete"),
        "fus.deviceclass": ("view", "add", "change"),
        "fus.firmwarepackage": CRUD,
        "fus.firmwarefile": ("view", "add"),
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
