"""The device page's extension point for CDS: ``{% cds_storage object %}`` renders the storage
cards (nothing for a user without the CDS view permission)."""

from __future__ import annotations

from django import template

from cds import access
from cds.views import cards_context

register = template.Library()


@register.inclusion_tag("cds/_section.html", takes_context=True)
def cds_storage(context, device):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not access.may(user, "view"):
        return {"show": False}
    return {"show": True, **cards_context(request, device)}


@register.filter
def mb(value):
    if value is None:
        return "—"
    return f"{value / 1000:.1f} GB" if value >= 10_000 else f"{value} MB"
