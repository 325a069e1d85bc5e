"""The audit log: explicit events for operational acts, and the automatic change log.

Services call `record_event()` inside their transaction. Creations, edits and deletions of every
`ChangeLoggedModel` are logged by signal handlers, whoever makes them (views, REST, admin, shell),
with a field-by-field diff. The actor is the current request's user (set by
`portal.middleware.ActorMiddleware`) or whoever `acting_as()` names (commands, Celery tasks).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from portal.choices import AuditKind
from portal.models import AuditEvent, ChangeLoggedModel


@dataclass(frozen=True)
class Actor:
    """Who acts now: a request (its user is read lazily: DRF authenticates in the view) or a user."""

    request: Any = None
    user: Any = None

    def resolve(self) -> tuple[Any, str | None]:
        user = self.user
        ip = None
        if self.request is not None:
            user = user or getattr(self.request, "user", None)
            ip = client_ip(self.request)
        if user is not None and not getattr(user, "is_authenticated", False):
            user = None
        return user, ip


_current: ContextVar[Actor | None] = ContextVar("portal_actor", default=None)


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@contextlib.contextmanager
def acting_as(*, user=None, request=None) -> Iterator[None]:
    """Attribute everything logged inside the block to `user` (or to `request`'s user). Inside a
    request, naming only the user keeps the request's address."""
    if request is None and (outer := _current.get()) is not None:
        request = outer.request
    token = _current.set(Actor(request=request, user=user))
    try:
        yield
    finally:
        _current.reset(token)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete field values, JSON-safe (files by name, relations by id)."""
    exclude = set(getattr(instance, "changelog_exclude", ()))
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude:
            continue
        value = field.value_from_object(instance)
        if isinstance(field, models.FileField):
            value = value.name if value else ""
        data[field.attname] = value
    return _json_safe(data)


def record_event(
    kind: AuditKind | str,
    *,
    obj: models.Model | None = None,
    message: str = "",
    changes: dict | None = None,
    details: dict | None = None,
    actor=None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Write one audit row. `actor` defaults to the current request's or `acting_as()` user."""
    if actor is None:
        current = _current.get()
        if current is not None:
            actor, request_ip = current.resolve()
            ip_address = ip_address or request_ip
    elif not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        kind=kind,
        object_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        message=message[:500],
        changes=_json_safe(changes or {}),
        details=_json_safe(details or {}),
        ip_address=ip_address,
    )


def history_for(obj: models.Model) -> models.QuerySet[AuditEvent]:
    """Every audit row about `obj`, newest first (the object's change log and acts)."""
    return AuditEvent.objects.filter(
        object_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("actor")


# --- automatic change log -------------------------------------------------------------------


@receiver(pre_save)
def _remember_before(sender, instance, raw=False, **kwargs) -> None:
    if raw or not isinstance(instance, ChangeLoggedModel) or instance._state.adding:
        return
    before = sender._base_manager.filter(pk=instance.pk).first()
    instance._changelog_before = snapshot(before) if before is not None else None


@receiver(post_save)
def _log_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw or not isinstance(instance, ChangeLoggedModel):
        return
    after = snapshot(instance)
    before = None if created else getattr(instance, "_changelog_before", None)
    if before is None:
        record_event(
            AuditKind.OBJECT_CREATED, obj=instance, changes={k: [None, v] for k, v in after.items()}
        )
        return
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if changes:
        record_event(AuditKind.OBJECT_UPDATED, obj=instance, changes=changes)
    instance._changelog_before = after


@receiver(post_delete)
def _log_delete(sender, instance, **kwargs) -> None:
    if not isinstance(instance, ChangeLoggedModel):
        return
    record_event(
        AuditKind.OBJECT_DELETED,
        obj=instance,
        changes={k: [v, None] for k, v in snapshot(instance).items()},
    )


# --- logins ---------------------------------------------------------------------------------


@receiver(user_logged_in)
def _log_login(sender, request, user, **kwargs) -> None:
    record_event(
        AuditKind.LOGIN, obj=user, actor=user, ip_address=client_ip(request) if request else None
    )


@receiver(user_logged_out)
def _log_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        record_event(
            AuditKind.LOGOUT,
            obj=user,
            actor=user,
            ip_address=client_ip(request) if request else None,
        )


@receiver(user_login_failed)
def _log_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Never store the password: only the user name that was tried.
    record_event(
        AuditKind.LOGIN_FAILED,
        message=f"Failed login for user name {credentials.get('username', '')!r}",
        details={"username": str(credentials.get("username", ""))[:150]},
        ip_address=client_ip(request) if request else None,
    )


def attributed(func):
    """Decorate a service taking `actor=`: the change log it writes is attributed to that actor."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        actor = kwargs.get("actor")
        if actor is None or not getattr(actor, "is_authenticated", False):
            return func(*args, **kwargs)
        with acting_as(user=actor):
            return func(*args, **kwargs)

    return wrapper
