"""FilterSets of the device registry, shared by the REST API and (later) the HTML device list.

Every filter hits an indexed column of `Device` (the promoted Inform facts), never the parameter
tree, so a 1,000,000-device registry filters fast.
"""

import django_filters
from django import forms
from django.utils import timezone

from acs.choices import TaskRpc, TaskState
from acs.models import Device, Task
from fus.metadata.identifiers import try_parse_mac
from fus.validators import normalize_oui
from portal.filtersets import RestrictedFilterSet


class DeviceFilterSet(RestrictedFilterSet):
    oui = django_filters.CharFilter(method="filter_oui", label="OUI")
    product_class = django_filters.CharFilter(label="ProductClass")
    software_version = django_filters.CharFilter(label="SoftwareVersion")
    hardware_version = django_filters.CharFilter(label="HardwareVersion")
    serial = django_filters.CharFilter(field_name="serial_number", label="SerialNumber")
    mac = django_filters.CharFilter(method="filter_mac", label="MAC address")
    online = django_filters.BooleanFilter(
        method="filter_online",
        label="Online",
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
    )

    class Meta:
        model = Device
        fields = [
            "oui",
            "product_class",
            "software_version",
            "hardware_version",
            "serial",
            "mac",
            "online",
        ]

    def filter_oui(self, queryset, name, value):
        return queryset.filter(oui=normalize_oui(value))

    def filter_mac(self, queryset, name, value):
        mac = try_parse_mac(value.strip())
        return queryset.filter(mac=mac) if mac is not None else queryset.none()

    def filter_online(self, queryset, name, value):
        now = timezone.now()
        if value:
            return queryset.filter(online_until__gt=now)
        return queryset.exclude(online_until__gt=now)


class TaskFilterSet(RestrictedFilterSet):
    state = django_filters.MultipleChoiceFilter(choices=TaskState.choices)
    rpc = django_filters.MultipleChoiceFilter(choices=TaskRpc.choices)

    class Meta:
        model = Task
        fields = ["state", "rpc"]
