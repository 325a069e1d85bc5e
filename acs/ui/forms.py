"""Forms of the device page's actions and of the list's saved searches and bulk actions.

They check shape only (a parameter name is not an object path, a value is a valid lexical form of
its type); whether the action applies is the service's decision (`acs.services.tasks`).
"""

from __future__ import annotations

from django import forms

from acs.cwmp import messages as m
from fus.choices import FirmwareStatus
from fus.models import FirmwarePackage

XSD_TYPES = [(t.value, t.value) for t in m.XsdType]
NAME_MAX = 256


def _clean_path(value: str, *, field: str, object_path: bool) -> str:
    value = value.strip()
    if not value:
        raise forms.ValidationError(f"{field} is required.")
    if any(c.isspace() for c in value):
        raise forms.ValidationError(f"{field} {value!r} contains white space.")
    if object_path and not value.endswith("."):
        raise forms.ValidationError(
            f"{field} {value!r} is not an object path (it must end with '.')."
        )
    if not object_path and value.endswith("."):
        raise forms.ValidationError(
            f"{field} {value!r} is an object path; name a parameter (no trailing '.')."
        )
    return value


class SetValueForm(forms.Form):
    name = forms.CharField(label="Parameter", max_length=NAME_MAX)
    value = forms.CharField(label="Value", required=False, max_length=4096, strip=False)
    type = forms.ChoiceField(label="Type", choices=XSD_TYPES, initial="string")

    def clean_name(self):
        return _clean_path(self.cleaned_data["name"], field="Parameter", object_path=False)

    def clean(self):
        data = super().clean()
        if "type" in data and "value" in data:
            try:
                data["typed"] = m.TypedValue(data["value"], m.XsdType(data["type"]))
            except ValueError as exc:
                self.add_error(
                    "value", f"Value {data['value']!r} is not a valid {data['type']}: {exc}"
                )
        return data


class ObjectForm(forms.Form):
    object_name = forms.CharField(label="Object path", max_length=NAME_MAX)

    def clean_object_name(self):
        return _clean_path(self.cleaned_data["object_name"], field="Object path", object_path=True)


class RefreshForm(forms.Form):
    path = forms.CharField(label="Below", max_length=NAME_MAX, required=False)

    def clean_path(self):
        value = self.cleaned_data["path"].strip()
        if not value:
            return ""
        return _clean_path(value, field="Path", object_path=True)


class PackageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.package_name} — SoftwareVersion {obj.software_version}"


class PushFirmwareForm(forms.Form):
    package = PackageChoiceField(queryset=FirmwarePackage.objects.none(), label="Package")

    def __init__(self, *args, packages=None, **kwargs):
        super().__init__(*args, **kwargs)
        if packages is not None:
            self.fields["package"].queryset = packages


def approved_packages(user):
    """Approved packages `user` may view (the choices of firmware pushes)."""
    return (
        FirmwarePackage.objects.restrict(user, "view")
        .filter(status=FirmwareStatus.APPROVED)
        .select_related("manufacturer")
        .order_by("package_name", "software_version")
    )


class SavedFilterForm(forms.Form):
    name = forms.CharField(label="Save this search as", max_length=100)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Name the search.")
        return name
