"""django-tables2 tables of the catalogue lists."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from fus.models import DeviceClass, FirmwarePackage, Manufacturer


class SelectColumn(tables.CheckBoxColumn):
    def __init__(self, **kwargs):
        super().__init__(
            accessor="pk",
            attrs={
                "input": {"name": "pk", "class": "row-select"},
                "th__input": {"class": "select-all"},
            },
            **kwargs,
        )


class ManufacturerTable(tables.Table):
    pk = SelectColumn()
    name = tables.Column(linkify=True)
    ouis = tables.Column(empty_values=(), orderable=False, verbose_name="OUIs")
    device_classes = tables.Column(empty_values=(), orderable=False, verbose_name="Device classes")

    class Meta:
        model = Manufacturer
        fields = ("pk", "name", "ouis", "device_classes", "reporting_orders_url")
        attrs = {"class": "table"}

    def render_ouis(self, record):
        return ", ".join(o.oui for o in record.ouis.all())

    def render_device_classes(self, record):
        return len(record.device_classes.all())


class DeviceClassTable(tables.Table):
    pk = SelectColumn()
    name = tables.Column(
        accessor="pk", linkify=True, verbose_name="Device class", order_by=("oui", "product_class")
    )
    manufacturer = tables.Column(linkify=True)
    hardware_versions = tables.Column(orderable=False, verbose_name="Hardware versions")

    class Meta:
        model = DeviceClass
        fields = (
            "pk",
            "name",
            "manufacturer",
            "oui",
            "product_class",
            "hardware_versions",
            "description",
        )
        attrs = {"class": "table"}

    def render_name(self, record):
        return str(record)

    def render_hardware_versions(self, value):
        return ", ".join(value) if value else "—"


STATUS_BADGES = {
    "draft": "badge-grey",
    "validated": "badge-blue",
    "approved": "badge-green",
    "retired": "badge-dark",
}


class FirmwarePackageTable(tables.Table):
    pk = SelectColumn()
    package_name = tables.Column(linkify=True, verbose_name="PackageName")
    software_version = tables.Column(verbose_name="SoftwareVersion")
    manufacturer = tables.Column(linkify=True)
    device_classes = tables.Column(empty_values=(), orderable=False, verbose_name="Device classes")
    status = tables.Column()
    size = tables.Column(empty_values=(), orderable=False, verbose_name="Size")
    signed_packaging = tables.BooleanColumn(verbose_name="Signed")
    created = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Uploaded")

    class Meta:
        model = FirmwarePackage
        fields = (
            "pk",
            "package_name",
            "software_version",
            "manufacturer",
            "device_classes",
            "status",
            "size",
            "signed_packaging",
            "update_priority",
            "created",
        )
        attrs = {"class": "table"}

    def render_device_classes(self, record):
        return ", ".join(str(dc) for dc in record.device_classes.all())

    def render_status(self, record):
        return format_html(
            '<span class="badge {}">{}</span>',
            STATUS_BADGES[record.status],
            record.get_status_display(),
        )

    def render_size(self, record):
        return filesizeformat(record.package_size)
