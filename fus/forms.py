"""Catalogue forms. They parse and check input; the services in fus.services.catalogue decide."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model

from fus.models import DeviceClass, FirmwarePackage, Manufacturer
from fus.validators import validate_version_string
from portal.choices import Role


def split_list(value: str) -> list[str]:
    return [v for v in re.split(r"[\s,;]+", value or "") if v]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes several files and cleans to a list of them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not items and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        cleaned = []
        for item in items:
            error = getattr(item, "error", "")
            if error:
                raise forms.ValidationError(f"{item.name}: {error}.", code="upload_failed")
            cleaned.append(super().clean(item, initial))
        return cleaned


class ManufacturerForm(forms.ModelForm):
    ouis = forms.CharField(
        label="OUIs",
        help_text="One or more IEEE OUIs, six hex digits each, separated by commas or spaces.",
    )
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        help_text="Supplier-portal users acting for this manufacturer.",
    )

    class Meta:
        model = Manufacturer
        fields = ["name", "ouis", "reporting_orders_url", "download_location", "members"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = (
            get_user_model().objects.filter(groups__name=Role.SUPPLIER).order_by("username")
        )
        if self.instance.pk:
            self.fields["ouis"].initial = ", ".join(
                self.instance.ouis.values_list("oui", flat=True)
            )
            self.fields["members"].initial = list(self.instance.members.all())


class DeviceClassForm(forms.ModelForm):
    hardware_versions = forms.CharField(
        required=False, label="Hardware versions", help_text="Separated by commas or spaces."
    )

    class Meta:
        model = DeviceClass
        fields = ["manufacturer", "oui", "product_class", "description", "hardware_versions"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manufacturer"].queryset = Manufacturer.objects.restrict(user, "view")
        if self.instance.pk:
            self.fields["hardware_versions"].initial = ", ".join(self.instance.hardware_versions)

    def clean_hardware_versions(self):
        versions = split_list(self.cleaned_data.get("hardware_versions", ""))
        for v in versions:
            validate_version_string(v)
        return versions

    def clean(self):
        from fus.services.catalogue import CatalogueError, check_device_class

        cleaned = super().clean()
        manufacturer = cleaned.get("manufacturer")
        if manufacturer and cleaned.get("oui"):
            try:
                cleaned["oui"] = check_device_class(manufacturer, cleaned["oui"])
                self.instance.oui = cleaned["oui"]
            except CatalogueError as exc:
                self.add_error("oui", exc.message_dict["oui"])
        return cleaned


class FirmwareMetadataForm(forms.ModelForm):
    """The metadata a manufacturer declares for a package (clause 7 names)."""

    device_classes = forms.ModelMultipleChoiceField(
        queryset=DeviceClass.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The device classes (OUI-ProductClass) this firmware is for.",
    )

    class Meta:
        model = FirmwarePackage
        fields = ["device_classes", *FirmwarePackage.METADATA_FIELDS]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "message_descriptor": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["device_classes"].queryset = DeviceClass.objects.restrict(
            user, "view"
        ).select_related("manufacturer")
        if self.instance.pk:
            self.fields["device_classes"].initial = list(self.instance.device_classes.all())

    def clean(self):
        cleaned = super().clean()
        dcs = cleaned.get("device_classes") or []
        if len({dc.manufacturer_id for dc in dcs}) > 1:
            self.add_error("device_classes", "Choose device classes of one manufacturer only.")
        return cleaned

    def _post_clean(self):
        # Model validation of the (not yet saved) package happens in the service, which knows the
        # manufacturer; skip ModelForm's own instance validation here.
        pass


class FirmwareUploadForm(FirmwareMetadataForm):
    files = MultipleFileField(label="Image files", help_text="One or more firmware image files.")
    signatures = MultipleFileField(
        required=False,
        label="Signatures",
        help_text="Optional detached CMS/PKCS#7 signatures (DER or PEM), named after their image "
        "(image.bin.p7s), or one signature for a single image.",
    )

    field_order = ["device_classes", "software_version", "package_name", "files", "signatures"]


class SigningCertificateForm(forms.Form):
    name = forms.CharField(max_length=100)
    pem = forms.CharField(
        label="Certificate (PEM)",
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        help_text="One or more PEM certificates: your code-signing CA (or the signing certificate).",
    )
    certificate_file = forms.FileField(required=False, label="…or a certificate file")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("certificate_file")
        if upload:
            data = b"".join(upload.chunks())[: 256 * 1024]
            cleaned["pem"] = data.decode("latin-1") if b"-----BEGIN" in data else data
        if not cleaned.get("pem"):
            raise forms.ValidationError("Paste a PEM certificate or choose a certificate file.")
        return cleaned


class FirmwareRetireForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class MetadataImportForm(forms.Form):
    """An RMS-FUS metadata document (TS 102 542-4 clause 7) to create or update a package."""

    document = forms.FileField(
        label="Metadata XML",
        help_text="An RMS-FUS metadata document in the rms or rms12 namespace (at most 10 MiB). "
        "It creates the package, or updates the draft of the same PackageName; image files "
        "follow through the package page or the API.",
    )
