"""Pages of what boxes reported: update reports under /catalogue/reports/ for the NOC, and — the
same pages, restricted by `restrict()` through `UpdateReport.tenant_path` — for a manufacturer in the
supplier portal (its own OUIs' reports only; another manufacturer's report id is a 404)."""

from __future__ import annotations

import django_filters
import django_tables2 as tables
from django.db.models import Q
from django.utils.html import format_html

from fus.models import DeviceClass, FirmwarePackage, Manufacturer, UpdateReport, UpdateResult
from fus.validators import normalize_oui
from portal.filtersets import RestrictedFilterSet
from portal.views.generic import ObjectListView, ObjectView


class UpdateReportFilterSet(RestrictedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    manufacturer = django_filters.ModelChoiceFilter(queryset=Manufacturer.objects.all())
    device_class = django_filters.ModelChoiceFilter(queryset=DeviceClass.objects.all())
    package = django_filters.ModelChoiceFilter(queryset=FirmwarePackage.objects.all())
    result = django_filters.ChoiceFilter(choices=UpdateResult.choices)
    result_code = django_filters.NumberFilter(label="Result code")
    to_version = django_filters.CharFilter(label="To SoftwareVersion")
    since = django_filters.DateTimeFilter(
        field_name="received_at", lookup_expr="gte", label="Since"
    )
    until = django_filters.DateTimeFilter(
        field_name="received_at", lookup_expr="lte", label="Until"
    )

    class Meta:
        model = UpdateReport
        fields = [
            "q",
            "manufacturer",
            "device_class",
            "package",
            "result",
            "result_code",
            "to_version",
            "since",
            "until",
        ]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(serial_number=value)
            | Q(mac_address__iexact=value)
            | Q(oui=normalize_oui(value))
            | Q(product_class__icontains=value)
            | Q(result_text__icontains=value)
        )


class UpdateReportTable(tables.Table):
    received_at = tables.DateTimeColumn(format="Y-m-d H:i:s", linkify=True, verbose_name="Received")
    box = tables.Column(empty_values=(), order_by=("oui", "serial_number"), verbose_name="Box")
    product_class = tables.Column(verbose_name="ProductClass")
    from_version = tables.Column(verbose_name="From")
    to_version = tables.Column(verbose_name="To")
    result = tables.Column()
    result_code = tables.Column(verbose_name="Code")
    result_text = tables.Column(verbose_name="Text")
    package = tables.Column(linkify=True)

    class Meta:
        model = UpdateReport
        fields = (
            "received_at",
            "box",
            "product_class",
            "from_version",
            "to_version",
            "result",
            "result_code",
            "result_text",
            "package",
        )
        attrs = {"class": "table"}

    def render_box(self, record):
        return f"{record.oui}-{record.serial_number}"

    def value_box(self, record):
        return f"{record.oui}-{record.serial_number}"

    def render_result(self, record):
        badge = "badge-green" if record.result == UpdateResult.SUCCESS else "badge-dark"
        return format_html('<span class="badge {}">{}</span>', badge, record.get_result_display())


REPORT_QS = UpdateReport.objects.select_related("manufacturer", "package", "device_class")


class UpdateReportListView(ObjectListView):
    queryset = REPORT_QS
    filterset_class = UpdateReportFilterSet
    table_class = UpdateReportTable


class UpdateReportView(ObjectView):
    queryset = REPORT_QS
    template_name = "fus/reports/report.html"
