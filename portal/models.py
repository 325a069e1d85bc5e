"""Shared models: the audit log (operational acts and the change log of catalogue models)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from portal.choices import AuditKind
from portal.fields import CodeChoicesCharField
from portal.permissions import RestrictedQuerySet


class ChangeLoggedModel(models.Model):
    """A model whose creations, edits and deletions are written to the audit log automatically.

    `portal.audit` hooks save/delete signals; the actor comes from the current request or from
    `portal.audit.acting_as()`. Subclasses set `tenant_path` for `restrict()`.
    """

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    changelog_exclude: tuple[str, ...] = ("created", "updated")
    tenant_path: str | None = None

    class Meta:
        abstract = True


class AuditEvent(models.Model):
    """Who did what, when, to which object. Never edited; written by portal.audit only."""

    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(
        max_length=150, blank=True, help_text="Kept if the user is deleted."
    )
    kind = CodeChoicesCharField(max_length=40, choices=AuditKind.choices, db_index=True)
    object_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="field: [before, after]")
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = None  # suppliers never read the audit log

    class Meta:
        ordering = ("-timestamp", "-pk")
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.kind}"


class SavedFilter(models.Model):
    """A user's named search on a list page: the page's path and its query string (saved searches
    of the device list, usable by bulk actions). Owned by one user; nobody else sees it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    path = models.CharField(max_length=200, help_text="The list page, e.g. /devices/.")
    name = models.CharField(max_length=100)
    query = models.TextField(blank=True, help_text="The URL query string of the filter.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("path", "name")
        constraints = [
            models.UniqueConstraint(fields=["user", "path", "name"], name="portal_savedfilter_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"
