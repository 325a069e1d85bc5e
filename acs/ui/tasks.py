"""Celery tasks of the ACS pages: filter-wide bulk actions too large for a web request."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="acs.ui.bulk", ignore_result=True)
def bulk_action(
    user_id: int, action: str, query: str, package_id: int | None = None, **kwargs
) -> dict:
    """Queue `action` on every device of the device-list query `query` that the user may act on
    (re-checked here: permissions may have changed since the request)."""
    from django.contrib.auth import get_user_model

    from acs.ui import bulk

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return {"done": 0, "skipped": 0, "reasons": ["user gone or inactive"]}
    result = bulk.run_filter(user, action, query, package_id=package_id)
    return {"done": result.done, "skipped": result.skipped, "reasons": result.reasons}
