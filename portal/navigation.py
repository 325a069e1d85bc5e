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
        "Devices",
        (
            MenuItem("Devices", "devices:list", permission="acs.view_device"),
            MenuItem("Help desk: find a box", "cds:search", permission="cds.view_storage"),
            MenuItem("CDS nearly full", "cds:nearly_full", permission="cds.view_storage"),
            MenuItem("CDS configuration", "cds:jobs", permission="cds.change_configurationjob"),
            MenuItem(
                "Home-network compliance", "homenet:dashboard", permission="homenet.view_compliance"
            ),
            MenuItem("Configuration profiles", "profiles:list", permission="homenet.view_profile"),
        ),
    ),
    MenuSection(
        "Firmware catalogue",
        (
            MenuItem(
                "Firmware packages", "fus:firmware_list", permission="fus.view_firmwarepackage"
            ),
            MenuItem(
                "Import metadata", "fus:metadata_import", permission="fus.add_firmwarepackage"
            ),
            MenuItem("Device classes", "fus:deviceclass_list", permission="fus.view_deviceclass"),
            MenuItem("Manufacturers", "fus:manufacturer_list", permission="fus.view_manufacturer"),
            MenuItem("Update reports", "fus:report_list", permission="fus.view_updatereport"),
            MenuItem("Rollouts", "rollouts:list", permission="fus.view_rollout"),
            MenuItem("Carousels", "fus:carousel_list", permission="fus.view_carousel"),
            MenuItem("FUS & RMS entities", "fus:entities", permission="fus.view_fusentity"),
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
            MenuItem("Update reports", "fus:report_list", roles=("supplier",)),
            MenuItem("Import metadata", "supplier:metadata_import", roles=("supplier",)),
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
