"""The navigation menu. Apps add their sections here; items show only to users who may use them."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from portal.roles import has_role, is_supplier


@dataclass(frozen=True)
class MenuItem:
    label: str
    url_name: str
    permission: str | None = None  # a Django permission, e.g. "fus.view_firmwarepackage"
    roles: tuple[str, ...] = ()  # or: any of these roles


@dataclass(frozen=True)
class MenuSection:
    label: str
    items: tuple[MenuItem, ...]


MENU: tuple[MenuSection, ...] = (
    MenuSection(
        "Firmware catalogue",
        (
            MenuItem(
                "Firmware packages", "fus:firmware_list", permission="fus.view_firmwarepackage"
            ),
            MenuItem("Device classes", "fus:deviceclass_list", permission="fus.view_deviceclass"),
            MenuItem("Manufacturers", "fus:manufacturer_list", permission="fus.view_manufacturer"),
        ),
    ),
    MenuSection(
        "Administration",
        (
            MenuItem("Audit log", "audit_list", permission="portal.view_auditevent"),
            MenuItem(
                "API documentation", "api-docs", roles=("admin", "noc", "helpdesk", "supplier")
            ),
            MenuItem("Django admin", "admin:index", roles=("admin",)),
        ),
    ),
)

SUPPLIER_MENU: tuple[MenuSection, ...] = (
    MenuSection(
        "Supplier portal",
        (
            MenuItem("Overview", "supplier:home", roles=("supplier",)),
            MenuItem("Upload firmware", "supplier:upload", roles=("supplier",)),
            MenuItem("API documentation", "api-docs", roles=("supplier",)),
        ),
    ),
)


def _visible(user, item: MenuItem) -> bool:
    if item.permission and user.has_perm(item.permission):
        return True
    return bool(item.roles) and has_role(user, *item.roles)


def menu_for(user) -> list[dict]:
    if not getattr(user, "is_authenticated", False):
        return []
    sections = SUPPLIER_MENU if is_supplier(user) else MENU
    out = []
    for section in sections:
        items = [
            {"label": i.label, "url": reverse(i.url_name), "url_name": i.url_name}
            for i in section.items
            if _visible(user, i)
        ]
        if items:
            out.append({"label": section.label, "items": items})
    return out


def navigation(request) -> dict:
    """Template context processor: the menu for the current user."""
    return {"nav_menu": menu_for(getattr(request, "user", None))}
