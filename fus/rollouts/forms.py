"""The creation wizard's form: text forms of stages and windows an operator can type."""

from __future__ import annotations

import re

from django import forms

from fus.choices import FirmwareStatus
from fus.models import DeviceClass, FirmwarePackage
from fus.rollouts.choices import Assignment, Channel, GateMode
from portal.models import SavedFilter

DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_STAGE = re.compile(r"(?:(?P<name>[^\d%][^%]*?)\s+)?(?P<n>\d+(?:\.\d+)?)(?P<pct>%?)")
_WINDOW = re.compile(r"(?P<days>[a-z,\-]+)\s+(?P<start>\d\d:\d\d)\s*-\s*(?P<end>\d\d:\d\d)")


def parse_stages_text(text: str) -> list[dict]:
    """``canary 10, 10%, wave two 50%`` -> stage dicts (a number = a count, N% = a percent)."""
    stages = []
    for index, part in enumerate(p.strip() for p in re.split(r"[,\n]", text or "")):
        if not part:
            continue
        match = _STAGE.fullmatch(part)
        if not match:
            raise forms.ValidationError(
                f"stage {index + 1}: {part!r} is not 'NAME COUNT' or 'NAME PERCENT%'"
            )
        stage: dict = {"name": match["name"]} if match["name"] else {}
        number = match["n"]
        if match["pct"]:
            stage["percent"] = float(number)
        elif "." in number:
            raise forms.ValidationError(f"stage {index + 1}: a count is a whole number ({part!r})")
        else:
            stage["count"] = int(number)
        stages.append(stage)
    return stages


def stages_text(stages: list[dict]) -> str:
    out = []
    for s in stages:
        amount = f"{s['percent']:g}%" if "percent" in s else str(s.get("count"))
        out.append(f"{s['name']} {amount}" if s.get("name") else amount)
    return ", ".join(out)


def _days(text: str, line: int) -> list[int]:
    if text in ("daily", "every"):
        return list(range(7))
    days: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, _, b = part.partition("-")
            if a not in DAYS or b not in DAYS:
                raise forms.ValidationError(f"window line {line}: {part!r} is not a day range")
            i, j = DAYS[a], DAYS[b]
            days += list(range(i, j + 1)) if i <= j else [*range(i, 7), *range(0, j + 1)]
        elif part in DAYS:
            days.append(DAYS[part])
        else:
            raise forms.ValidationError(f"window line {line}: {part!r} is not a day (mon..sun)")
    return sorted(set(days))


def parse_windows_text(text: str) -> list[dict]:
    """Lines ``mon-fri 02:00-05:00`` / ``daily 22:00-04:00`` / ``sat,sun 00:00-00:00``."""
    windows = []
    for line_no, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip().lower()
        if not line:
            continue
        match = _WINDOW.fullmatch(line)
        if not match:
            raise forms.ValidationError(
                f"window line {line_no}: {raw.strip()!r} is not 'DAYS HH:MM-HH:MM'"
            )
        windows.append(
            {"days": _days(match["days"], line_no), "start": match["start"], "end": match["end"]}
        )
    return windows


def windows_text(windows: list[dict]) -> str:
    names = list(DAYS)
    return "\n".join(
        f"{','.join(names[d] for d in w.get('days', range(7)))} {w['start']}-{w['end']}"
        for w in windows
    )


class RolloutForm(forms.Form):
    name = forms.CharField(max_length=120)
    package = forms.ModelChoiceField(queryset=FirmwarePackage.objects.none())
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, widget=forms.CheckboxSelectMultiple, initial=[Channel.MANAGED]
    )
    device_classes = forms.ModelMultipleChoiceField(
        queryset=DeviceClass.objects.none(),
        required=False,
        help_text="Empty: every device class of the package.",
    )
    from_versions = forms.CharField(
        required=False, help_text="Current SoftwareVersions, comma-separated (empty: any)."
    )
    hardware_versions = forms.CharField(required=False, help_text="Comma-separated (empty: any).")
    range_list = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="include|exclude serial|mac LOW..HIGH or ID,ID — one entry per line.",
    )
    tags = forms.CharField(required=False, help_text="Devices with any of these tags.")
    saved_filter = forms.ModelChoiceField(
        queryset=SavedFilter.objects.none(), required=False, label="Saved device search"
    )
    assignment = forms.ChoiceField(choices=Assignment.choices, initial=Assignment.SPREAD)
    stages = forms.CharField(
        initial="canary 10, 10%, 50%",
        help_text="A count or a percentage of the population each; what is left is a last wave.",
    )
    start_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end_at = forms.DateTimeField(
        required=False,
        label="Valid until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    time_zone = forms.CharField(initial="UTC", max_length=64)
    windows = forms.CharField(
        required=False,
        label="Maintenance windows",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: mon-fri 02:00-05:00 (empty: always).",
    )
    disruptive_windows = forms.CharField(
        required=False,
        label="Windows for disruptive steps",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="CWMP Downloads reboot the box: only then (empty: the maintenance windows).",
    )
    max_concurrent = forms.IntegerField(min_value=1, initial=100, label="Concurrent downloads")
    starts_per_minute = forms.IntegerField(min_value=1, initial=60)
    jitter_seconds = forms.IntegerField(min_value=0, initial=30)
    gate = forms.ChoiceField(choices=GateMode.choices, initial=GateMode.AUTO)
    success_threshold = forms.IntegerField(
        min_value=0, max_value=100, initial=95, label="Success criterion (%)"
    )
    soak_minutes = forms.IntegerField(min_value=0, initial=0, label="Soak between waves (min)")
    failure_threshold = forms.IntegerField(
        min_value=1, max_value=100, initial=10, label="Halt at failure rate (%)"
    )
    failure_window_minutes = forms.IntegerField(min_value=1, initial=60, label="Window (min)")
    min_sample = forms.IntegerField(min_value=1, initial=10, label="Minimum sample")
    count_timeouts = forms.BooleanField(
        required=False, initial=True, label="Count time-outs as failures"
    )
    device_timeout_minutes = forms.IntegerField(min_value=1, initial=240, label="Time-out (min)")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = (
            FirmwarePackage.objects.restrict(user, "view")
            .filter(status__in=(FirmwareStatus.VALIDATED, FirmwareStatus.APPROVED))
            .select_related("manufacturer")
            .order_by("manufacturer__name", "package_name")
        )
        self.fields["device_classes"].queryset = DeviceClass.objects.restrict(user, "view")
        self.fields["saved_filter"].queryset = SavedFilter.objects.filter(user=user)

    def clean_stages(self):
        return parse_stages_text(self.cleaned_data["stages"])

    def clean_windows(self):
        return parse_windows_text(self.cleaned_data["windows"])

    def clean_disruptive_windows(self):
        return parse_windows_text(self.cleaned_data["disruptive_windows"])

    def spec(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("package")
        data["device_classes"] = list(data["device_classes"])
        return data

    @classmethod
    def initial_from(cls, rollout) -> dict:
        data = {
            name: getattr(rollout, name)
            for name in (
                "name",
                "package",
                "channels",
                "range_list",
                "saved_filter",
                "assignment",
                "start_at",
                "end_at",
                "time_zone",
                "max_concurrent",
                "starts_per_minute",
                "jitter_seconds",
                "gate",
                "success_threshold",
                "soak_minutes",
                "failure_threshold",
                "failure_window_minutes",
                "min_sample",
                "count_timeouts",
                "device_timeout_minutes",
            )
        }
        data.update(
            device_classes=list(rollout.device_classes.all()),
            from_versions=", ".join(rollout.from_versions),
            hardware_versions=", ".join(rollout.hardware_versions),
            tags=", ".join(rollout.tags),
            stages=stages_text(rollout.stages),
            windows=windows_text(rollout.windows),
            disruptive_windows=windows_text(rollout.disruptive_windows),
        )
        return data
