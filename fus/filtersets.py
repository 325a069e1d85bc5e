"""FilterSets shared by the catalogue's HTML lists and its REST API."""

import django_filters
from django import forms
from django.db.models import Q

from fus.choices import FirmwareStatus
from fus.models import DeviceClass, FirmwarePackage, Manufacturer
from fus.validators import normalize_oui
from portal.filtersets import RestrictedFilterSet


class ManufacturerFilterSet(RestrictedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    oui = django_filters.CharFilter(method="filter_oui", label="OUI")

    class Meta:
        model = Manufacturer
        fields = ["q", "oui"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(ouis__oui__iexact=normalize_oui(value))
        ).distinct()

    def filter_oui(self, queryset, name, value):
        return queryset.filter(ouis__oui=normalize_oui(value))


class DeviceClassFilterSet(RestrictedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    manufacturer = django_filters.ModelChoiceFilter(queryset=Manufacturer.objects.all())
    oui = django_filters.CharFilter(method="filter_oui", label="OUI")

    class Meta:
        model = DeviceClass
        fields = ["q", "manufacturer", "oui", "product_class"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(product_class__icontains=value)
            | Q(description__icontains=value)
            | Q(oui__iexact=normalize_oui(value))
        )

    def filter_oui(self, queryset, name, value):
        return queryset.filter(oui=normalize_oui(value))


class FirmwarePackageFilterSet(RestrictedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    manufacturer = django_filters.ModelChoiceFilter(queryset=Manufacturer.objects.all())
    device_class = django_filters.ModelChoiceFilter(
        field_name="device_classes", queryset=DeviceClass.objects.all(), label="Device class"
    )
    status = django_filters.MultipleChoiceFilter(choices=FirmwareStatus.choices)
    software_version = django_filters.CharFilter(lookup_expr="icontains", label="SoftwareVersion")
    signed_packaging = django_filters.BooleanFilter(
        label="Signed",
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
    )

    class Meta:
        model = FirmwarePackage
        fields = [
            "q",
            "manufacturer",
            "device_class",
            "status",
            "software_version",
            "signed_packaging",
        ]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(package_name__icontains=value)
            | Q(software_version__icontains=value)
            | Q(description__icontains=value)
            | Q(files__sha256__iexact=value.lower())
        ).distinct()
