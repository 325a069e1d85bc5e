"""Admin for the catalogue. Lifecycle changes go through the services (admin actions)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from fus.models import (
    DeviceClass,
    FirmwareFile,
    FirmwarePackage,
    FirmwareTarget,
    FusEntity,
    Manufacturer,
    ManufacturerOUI,
    RmsEntity,
    ServiceLocation,
    SigningCertificate,
)
from fus.models.entities import FUS_LOCATION_KINDS, InterfaceChoices, LocationKind
from fus.services import catalogue, entities
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


# --- FUS and RMS entities (administrators edit; the NOC may look) -------------------------------


class _EntityForm(forms.ModelForm):
    """The default flag moves from the previous default in the service: not a form error."""

    def _get_validation_exclusions(self):
        return {*super()._get_validation_exclusions(), "is_default"}


class FusEntityForm(_EntityForm):
    supported_interfaces = forms.MultipleChoiceField(
        label="SupportedInterfaces",
        choices=InterfaceChoices.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = FusEntity
        fields = (
            "name",
            "fus_id",
            "description",
            "source_address",
            "supported_interfaces",
            "delivery_rate",
            "is_default",
        )


class RmsEntityForm(_EntityForm):
    class Meta:
        model = RmsEntity
        fields = ("name", "rms_id", "description", "is_default")


def _location_spec(form) -> entities.LocationSpec:
    data = form.cleaned_data
    return entities.LocationSpec(
        kind=data.get("kind") or "",
        url=data.get("url") or "",
        address=data.get("address") or None,
        port=data.get("port"),
        preference=data.get("preference"),
        protocol=data.get("protocol") or "",
    )


def _kept_forms(formset):
    for form in formset.forms:
        if not hasattr(form, "cleaned_data") or not form.cleaned_data:
            continue  # an untouched extra row
        if formset.can_delete and formset._should_delete_form(form):
            continue
        yield form


class LocationFormSet(BaseInlineFormSet):
    """Checks the whole location list with the service's rules before anything is saved."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        specs = [_location_spec(f) for f in _kept_forms(self)]
        try:
            entities.validate_locations(self.instance, specs)
        except entities.EntityError as exc:
            raise ValidationError(exc.messages) from None


class _LocationInline(admin.TabularInline):
    model = ServiceLocation
    formset = LocationFormSet
    extra = 0
    allowed_kinds: frozenset[str] = frozenset()

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "kind":
            kwargs["choices"] = [c for c in LocationKind.choices if c[0] in self.allowed_kinds]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class FusLocationInline(_LocationInline):
    fk_name = "fus"
    fields = ("kind", "url", "address", "port", "protocol", "preference")
    allowed_kinds = FUS_LOCATION_KINDS
    verbose_name = "location"


class RmsLocationInline(_LocationInline):
    fk_name = "rms"
    fields = ("kind", "url", "preference")
    allowed_kinds = frozenset({LocationKind.MANAGEMENT_SERVER})
    verbose_name = "ManagementServerLocation"


class _EntityAdmin(RestrictedModelAdmin):
    """Saved with its locations in one service call (audited, SD&S version bumped)."""

    readonly_fields = ("sdns_version_hex", "updated")
    save_service = staticmethod(entities.save_fus_entity)
    delete_service = staticmethod(entities.delete_fus_entity)

    @admin.display(description="SD&S version")
    def sdns_version_hex(self, obj):
        return f"{obj.sdns_version:02X}" if obj and obj.pk else "—"

    def save_model(self, request, obj, form, change):
        pass  # saved with its locations in save_related, through the service

    def save_related(self, request, form, formsets, change):
        specs = [_location_spec(f) for fs in formsets for f in _kept_forms(fs)]
        self.save_service(form.instance, locations=specs, actor=request.user)
        for formset in formsets:  # what the admin's change message reads
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        self.delete_service(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_service(obj, actor=request.user)


@admin.register(FusEntity)
class FusEntityAdmin(_EntityAdmin):
    form = FusEntityForm
    inlines = (FusLocationInline,)
    list_display = ("name", "fus_id", "is_default", "delivery_rate", "sdns_version_hex", "updated")
    search_fields = ("name", "fus_id")


@admin.register(RmsEntity)
class RmsEntityAdmin(_EntityAdmin):
    form = RmsEntityForm
    inlines = (RmsLocationInline,)
    list_display = ("name", "rms_id", "is_default", "sdns_version_hex", "updated")
    search_fields = ("name", "rms_id")
    save_service = staticmethod(entities.save_rms_entity)
    delete_service = staticmethod(entities.delete_rms_entity)
