"""The device list's filters: the REST API's `acs.filtersets.DeviceFilterSet` (OUI, ProductClass,
versions, SerialNumber, MAC, online) plus a serial/MAC/IP search box, the device class and a tag.

Every filter is an equality or range on an indexed `Device` column or a prefix of the serial
number, except the IP address and the tag (see `filter_tag`); nothing reads the parameter tree. The same FilterSet
drives the list page, its CSV export and bulk actions on "everything matching", so they always
agree on which devices are meant.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json

import django_filters
from django.db import connection
from django.db.models import Q

from acs.filtersets import DeviceFilterSet as ApiDeviceFilterSet
from fus.metadata.identifiers import try_parse_mac
from fus.models import DeviceClass, ManufacturerOUI
from portal.roles import is_supplier


class DeviceFilterSet(ApiDeviceFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Serial / MAC / IP",
        help_text="An exact SerialNumber, MAC or IP address; end with * for a serial prefix.",
    )
    device_class = django_filters.ModelChoiceFilter(
        queryset=DeviceClass.objects.select_related("manufacturer"), label="Device class"
    )
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")

    class Meta(ApiDeviceFilterSet.Meta):
        fields = ["q", *ApiDeviceFilterSet.Meta.fields, "device_class", "tag"]

    def search(self, queryset, name, value):
        """An exact SerialNumber, a MAC address (any notation) or an IP address; ``ABC*`` is a
        SerialNumber prefix. Exact terms use the serial and MAC indexes (a prefix, and an IP
        address, which has no index, scan the filtered rows in list order)."""
        value = value.strip()
        if not value:
            return queryset
        if value.endswith("*"):
            prefix = value.rstrip("*")
            return queryset.filter(serial_number__startswith=prefix) if prefix else queryset
        match = Q(serial_number=value)
        mac = try_parse_mac(value)
        if mac is not None:
            match |= Q(mac=mac)
        with contextlib.suppress(ValueError):
            match |= Q(ip_address=str(ipaddress.ip_address(value)))
        return queryset.filter(match)

    def filter_tag(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if connection.features.supports_json_field_contains:
            return queryset.filter(tags__contains=[value])
        # SQLite has no JSON containment: match the quoted element in the stored JSON text, then
        # keep only rows whose list really holds the tag (the text match may hit a substring).
        candidates = queryset.filter(tags__icontains=json.dumps(value))
        pks = [pk for pk, tags in candidates.values_list("pk", "tags") if value in (tags or [])]
        return queryset.filter(pk__in=pks)


def narrowed(queryset, user):
    """For a supplier, the same rows bounded by its manufacturers' OUIs too.

    restrict() keeps a supplier's rows through a join (device class -> manufacturer -> members),
    which the ordered index scan of a keyset page cannot use: near the end of its own devices a
    supplier's page would walk every later device of other manufacturers. A device's OUI is its
    class's, and a class's OUI is one of its manufacturer's (an OUI in use cannot be removed), so
    this adds an indexed bound without changing the rows."""
    if not is_supplier(user):
        return queryset
    ouis = list(ManufacturerOUI.objects.restrict(user, "view").values_list("oui", flat=True))
    return queryset.filter(oui__in=ouis)
