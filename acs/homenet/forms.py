"""The profile form: rules as JSON (the same shape as the REST API)."""

from __future__ import annotations

import json

from django import forms

from acs.homenet.choices import Trigger
from acs.homenet.models import Profile


class JsonListField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 8, "class": "mono"})

    def prepare_value(self, value):
        if isinstance(value, list):
            return json.dumps(value, indent=2)
        return value

    def to_python(self, value):
        text = (value or "").strip() or "[]"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not JSON: {exc.msg} at line {exc.lineno}") from exc
        if not isinstance(data, list):
            raise forms.ValidationError("a JSON list is expected")
        return data


class ProfileForm(forms.ModelForm):
    triggers = forms.MultipleChoiceField(
        choices=Trigger.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    software_versions = JsonListField(required=False, widget=forms.TextInput())
    tags = JsonListField(required=False, widget=forms.TextInput())
    values = JsonListField(
        required=False, help_text='[{"path": "Device.X.*.Y", "value": "…", "type": "boolean"}]'
    )
    objects_rules = JsonListField(
        label="Objects",
        required=False,
        help_text='[{"table": "Device.WiFi.SSID.", "match": [{"name": "SSID", "value": "IPTV-{serial}"}], "present": true, "settings": [...]}]',
    )

    class Meta:
        model = Profile
        fields = (
            "name",
            "description",
            "layer",
            "priority",
            "enabled",
            "device_classes",
            "software_versions",
            "tags",
            "triggers",
            "schedule_minutes",
            "values",
            "objects_rules",
        )
