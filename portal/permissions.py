"""Object scoping: the single `restrict(user, action)` used by HTML views, REST and the admin.

Every model that reaches a user has a `RestrictedQuerySet` manager and declares `tenant_path`: the
lookup from the model to its `Manufacturer` ("" for Manufacturer itself, None when suppliers never
see the model). A user sees nothing without the model permission for the action; a supplier sees
only rows of the manufacturers it is a member of. Single-object lookups go through
`get_for_user_or_404`, so another tenant's id is indistinguishable from a missing one (404, not 403).
"""

from __future__ import annotations

from django.db import models
from django.http import Http404

from portal.roles import is_supplier


def permission_name(model: type[models.Model], action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def restrict_queryset(queryset: models.QuerySet, user, action: str = "view") -> models.QuerySet:
    model = queryset.model
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    if not user.has_perm(permission_name(model, action)):
        return queryset.none()
    if is_supplier(user):
        path = getattr(model, "tenant_path", None)
        if path is None:
            return queryset.none()
        lookup = f"{path}__members" if path else "members"
        return queryset.filter(**{lookup: user})
    return queryset


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> RestrictedQuerySet:
        """The rows `user` may take `action` on (view, add, change, delete, approve, ...)."""
        return restrict_queryset(self, user, action)


def get_for_user_or_404(queryset_or_model, user, action: str = "view", **lookup):
    """One object `user` may take `action` on, else 404 — also for another tenant's object."""
    queryset = (
        queryset_or_model._default_manager.all()
        if isinstance(queryset_or_model, type)
        else queryset_or_model
    )
    try:
        return restrict_queryset(queryset, user, action).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from exc


def can(user, model: type[models.Model], action: str) -> bool:
    """Whether `user` may take `action` on some rows of `model` (for showing buttons)."""
    return bool(user.is_authenticated and user.has_perm(permission_name(model, action)))
