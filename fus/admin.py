"""Admin for the catalogue. Lifecycle changes go through the services (admin actions)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from fus.models import (
    DeviceClass,
    FirmwareFile,
    FirmwarePackage,
    FirmwareTarget,
    Manufacturer,
    ManufacturerOUI,
    SigningCertificate,
)
from fus.services import catalogue
from portal.admin import RestrictedModelAdmin


class ManufacturerOUIInline(admin.TabularInline):
    model = ManufacturerOUI
    extra = 0


class SigningCertificateInline(admin.TabularInline):
    model = SigningCertificate
    extra = 0
    fields = ("name", "subject", "issuer", "not_before", "not_after", "fingerprint_sha256")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # registered through the portal, which parses and checks the PEM


@admin.register(Manufacturer)
class ManufacturerAdmin(RestrictedModelAdmin):
    list_display = ("name", "reporting_orders_url")
    search_fields = ("name", "ouis__oui")
    filter_horizontal = ("members",)
    inlines = (ManufacturerOUIInline, SigningCertificateInline)


@admin.register(DeviceClass)
class DeviceClassAdmin(RestrictedModelAdmin):
    list_display = ("__str__", "manufacturer", "oui", "product_class")
    list_filter = ("manufacturer",)
    search_fields = ("product_class", "oui")


class FirmwareFileInline(admin.TabularInline):
    model = FirmwareFile
    extra = 0
    fields = ("file_name", "size", "sha256", "module_type", "signer", "signed_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # files arrive through the streaming upload only


class FirmwareTargetInline(admin.TabularInline):
    model = FirmwareTarget
    extra = 0
    readonly_fields = ("device_class", "software_version")

    def has_add_permission(self, request, obj=None):
        return False


def _lifecycle_action(service, label):
    def run(modeladmin, request, queryset):
        for package in queryset:
            try:
                service(package, actor=request.user)
            except ValidationError as exc:
                modeladmin.message_user(
                    request, f"{package}: {'; '.join(exc.messages)}", messages.ERROR
                )
            else:
                modeladmin.message_user(request, f"{package}: {label.lower()}.")

    run.short_description = f"{label} selected packages"
    run.allowed_permissions = ("approve",)
    run.__name__ = f"{label.lower()}_packages"
    return run


@admin.register(FirmwarePackage)
class FirmwarePackageAdmin(RestrictedModelAdmin):
    list_display = ("package_name", "software_version", "manufacturer", "status", "created")
    list_filter = ("status", "manufacturer", "signed_packaging")
    search_fields = ("package_name", "software_version")
    readonly_fields = (
        "manufacturer",
        "status",
        "software_version",
        "uploaded_by",
        "approved_by",
        "approved_at",
        "validation_report",
    )
    exclude = ("device_classes",)
    inlines = (FirmwareTargetInline, FirmwareFileInline)
    actions = (
        _lifecycle_action(catalogue.approve_firmware, "Approve"),
        _lifecycle_action(catalogue.retire_firmware, "Retire"),
    )

    def has_add_permission(self, request):
        return False  # packages arrive through the upload (portal or API)

    def has_approve_permission(self, request):
        return request.user.has_perm("fus.approve_firmwarepackage")

    def delete_model(self, request, obj):
        catalogue.delete_firmware(obj, actor=request.user)


@admin.register(SigningCertificate)
class SigningCertificateAdmin(RestrictedModelAdmin):
    list_display = ("name", "manufacturer", "subject", "not_after")
    readonly_fields = (
        "subject",
        "issuer",
        "serial_number",
        "fingerprint_sha256",
        "not_before",
        "not_after",
    )

    def has_add_permission(self, request):
        return False
