"""REST /api/profiles/: profiles (CRUD, validated by the engine), dry run and apply per device,
and the compliance list."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from acs.homenet import services
from acs.homenet.choices import Layer
from acs.homenet.models import Compliance, DeviceVariable, Profile
from acs.models import Device
from fus.models import DeviceClass
from portal.api.viewsets import RestrictedModelViewSet
from portal.permissions import can, get_for_user_or_404, restrict_queryset


class ProfileSerializer(serializers.ModelSerializer):
    objects = serializers.JSONField(source="objects_rules", required=False)
    device_classes = serializers.PrimaryKeyRelatedField(
        many=True, queryset=DeviceClass.objects.all(), required=False
    )
    layer = serializers.ChoiceField(choices=Layer.choices, required=False)

    class Meta:
        model = Profile
        fields = (
            "id",
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
            "objects",
            "library",
            "created",
            "updated",
        )
        read_only_fields = ("library", "created", "updated")

    def _save(self, instance: Profile, validated: dict) -> Profile:
        classes = validated.pop("device_classes", None)
        for name, value in validated.items():
            setattr(instance, name, value)
        try:
            return services.save_profile(
                instance, actor=self.context["request"].user, device_classes=classes
            )
        except DjangoValidationError as exc:
            errors = dict(exc.message_dict)
            if "objects_rules" in errors:
                errors["objects"] = errors.pop("objects_rules")
            raise ValidationError(errors) from exc

    def create(self, validated_data):
        return self._save(Profile(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class ProfileViewSet(RestrictedModelViewSet):
    """Configuration profiles. `GET /api/profiles/dry-run/{device}/` says what would change on a
    device; `POST /api/profiles/apply/{device}/` queues it; `GET /api/profiles/compliance/`;
    `GET/PUT/PATCH /api/profiles/variables/{device}/` a device's variables."""

    queryset = Profile.objects.prefetch_related("device_classes")
    serializer_class = ProfileSerializer
    restrict_actions = {
        "dry_run": "view",
        "compliance": "view",
        "apply": "view",
        "variables": "view",
    }

    def perform_destroy(self, instance):
        services.delete_profile(instance, actor=self.request.user)

    @action(detail=False, methods=["get"], url_path=r"dry-run/(?P<device_pk>[0-9]+)")
    def dry_run(self, request, device_pk=None):
        device = get_for_user_or_404(Device, request.user, "view", pk=device_pk)
        plan, names = services.dry_run(device)
        return Response({"device": device.pk, "profiles": names, **services.plan_to_json(plan)})

    @action(detail=False, methods=["post"], url_path=r"apply/(?P<device_pk>[0-9]+)")
    def apply(self, request, device_pk=None):
        device = get_for_user_or_404(Device, request.user, "change", pk=device_pk)
        if not request.user.has_perm("acs.add_task"):
            return Response(
                {"detail": "You may not queue tasks."}, status=status.HTTP_403_FORBIDDEN
            )
        compliance = services.apply_profiles(device, actor=request.user)
        return Response(compliance_json(compliance), status=status.HTTP_202_ACCEPTED)

    @action(
        detail=False, methods=["get", "put", "patch"], url_path=r"variables/(?P<device_pk>[0-9]+)"
    )
    def variables(self, request, device_pk=None):
        """``{"variables": {name: value}}``: PUT replaces them all, PATCH changes those given
        (``null`` deletes). A refused value is a 400 naming the variable:
        ``{"variables": {"telemetry_url": ["Device.X_SENSOR_Telemetry.URL: ..."]}}``."""
        user = request.user
        if request.method == "GET":
            if not can(user, DeviceVariable, "view"):
                return Response(
                    {"detail": "You may not see device variables."},
                    status=status.HTTP_403_FORBIDDEN,
                )
            device = get_for_user_or_404(Device, user, "view", pk=device_pk)
            return Response(variables_json(device))
        if not all(can(user, DeviceVariable, a) for a in ("add", "change", "delete")):
            return Response(
                {"detail": "You may not change device variables."},
                status=status.HTTP_403_FORBIDDEN,
            )
        device = get_for_user_or_404(Device, user, "change", pk=device_pk)
        body = request.data.get("variables") if isinstance(request.data, dict) else None
        if not isinstance(body, dict):
            raise ValidationError(
                {"variables": ['an object {"name": "value", ...} is expected (null deletes)']}
            )
        changes = dict(body)
        if request.method == "PUT":
            for name in services.custom_variables(device):
                changes.setdefault(name, None)
        try:
            services.set_variables(device, changes, actor=user)
        except DjangoValidationError as exc:
            raise ValidationError({"variables": exc.message_dict}) from exc
        return Response(variables_json(device))

    @action(detail=False, methods=["get"])
    def compliance(self, request):
        rows = restrict_queryset(
            Compliance.objects.select_related("device"), request.user, "view"
        ).order_by("device_id")
        state = request.query_params.get("state")
        if state:
            rows = rows.filter(state=state)
        page = self.paginate_queryset(rows)
        data = [compliance_json(c) for c in (page if page is not None else rows[:500])]
        return self.get_paginated_response(data) if page is not None else Response(data)


def compliance_json(c: Compliance) -> dict:
    return {
        "device": c.device_id,
        "state": c.state,
        "evaluated": c.evaluated,
        "profiles": c.profiles,
        "changes": c.changes,
        "conflicts": c.conflicts,
        "problems": c.problems,
        "fault_code": c.fault_code,
        "fault_string": c.fault_string,
        "fault_details": c.fault_details,
        "pending_tasks": c.pending.get("tasks", []),
    }


def variables_json(device: Device) -> dict:
    uses = services.variable_uses(device)
    custom = services.custom_variables(device)
    builtin = services.variables_of(device)
    return {
        "device": device.pk,
        "builtin": {name: builtin.get(name, "") for name in services.BUILTIN_VARIABLES},
        "variables": custom,
        "used_by": {
            name: [{"profile": profile, "path": path} for profile, path in found]
            for name, found in sorted(uses.items())
        },
        "missing": sorted(
            n for n in uses if n not in custom and n not in services.BUILTIN_VARIABLES
        ),
    }
