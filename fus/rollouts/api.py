"""REST: ``/api/rollouts/`` — list, create (a planned draft), read, edit a draft, and the controls
``start``, ``pause``, ``resume``, ``cancel``, ``deactivate``, ``retry-failed``, ``approve-wave``,
``replan``; ``progress`` (the live snapshot) and ``devices`` (per-device outcomes)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from fus.models import DeviceClass, FirmwarePackage, Rollout, RolloutDevice, RolloutWave
from fus.rollouts import progress, services
from fus.rollouts.choices import DeviceState
from portal.api.viewsets import RestrictedViewSetMixin
from portal.models import SavedFilter


class RolloutWaveSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutWave
        fields = ("number", "name", "size", "state", "released_at", "finished_at", "approved_at")


class RolloutSerializer(serializers.ModelSerializer):
    package = serializers.PrimaryKeyRelatedField(queryset=FirmwarePackage.objects.none())
    device_classes = serializers.PrimaryKeyRelatedField(
        queryset=DeviceClass.objects.none(), many=True, required=False
    )
    saved_filter = serializers.PrimaryKeyRelatedField(
        queryset=SavedFilter.objects.none(), required=False, allow_null=True
    )
    waves = RolloutWaveSerializer(many=True, read_only=True)

    class Meta:
        model = Rollout
        fields = (
            "id",
            "name",
            "package",
            "status",
            "halt_reason",
            "current_wave",
            "channels",
            "device_classes",
            *[f for f in services.SPEC_FIELDS if f not in ("name", "channels")],
            "waves",
            "planned_at",
            "started_at",
            "finished_at",
            "created",
        )
        read_only_fields = (
            "status",
            "halt_reason",
            "current_wave",
            "planned_at",
            "started_at",
            "finished_at",
            "created",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        self.fields["package"].queryset = FirmwarePackage.objects.restrict(user, "view")
        self.fields["device_classes"].child_relation.queryset = DeviceClass.objects.restrict(
            user, "view"
        )
        self.fields["saved_filter"].queryset = SavedFilter.objects.filter(user=user)
        if self.instance is not None and not isinstance(self.instance, list):
            self.fields["package"].read_only = True


class RolloutDeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutDevice
        fields = (
            "id",
            "device",
            "oui",
            "product_class",
            "serial_number",
            "wave",
            "rank",
            "channel",
            "state",
            "confirmed",
            "fault_code",
            "source",
            "detail",
            "task",
            "started_at",
            "finished_at",
        )


class ApproveSerializer(serializers.Serializer):
    wave = serializers.IntegerField(min_value=0)


class DevicePages(PageNumberPagination):
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


class RolloutViewSet(
    RestrictedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Rollouts; drafts are planned on create and on every edit (their `waves` are the preview)."""

    queryset = Rollout.objects.select_related("package").prefetch_related("waves")
    serializer_class = RolloutSerializer
    restrict_actions = {
        "start": "operate",
        "pause": "operate",
        "resume": "operate",
        "cancel": "operate",
        "deactivate": "operate",
        "retry_failed": "operate",
        "approve_wave": "operate",
        "replan": "change",
        "progress": "view",
        "devices": "view",
    }

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        package = data.pop("package")
        serializer.instance = services.create_rollout(package, data, actor=self.request.user)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("package", None)
        try:
            serializer.instance = services.update_rollout(
                serializer.instance, data, actor=self.request.user
            )
        except services.RolloutStateError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None

    def _control(self, verb):
        rollout = self.get_object()
        try:
            verb(rollout, actor=self.request.user)
        except services.RolloutStateError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        rollout = Rollout.objects.get(pk=rollout.pk)
        return Response(RolloutSerializer(rollout, context=self.get_serializer_context()).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._control(services.start_rollout)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._control(services.pause_rollout)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._control(services.resume_rollout)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._control(services.cancel_rollout)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        return self._control(services.deactivate_rollout)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="retry-failed")
    def retry_failed(self, request, pk=None):
        return self._control(services.retry_failed)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def replan(self, request, pk=None):
        return self._control(services.replan_rollout)

    @extend_schema(request=ApproveSerializer)
    @action(detail=True, methods=["post"], url_path="approve-wave")
    def approve_wave(self, request, pk=None):
        rollout = self.get_object()
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.approve_wave(rollout, body.validated_data["wave"], actor=request.user)
        except services.RolloutStateError as exc:
            raise ValidationError({"wave": [str(exc)]}) from None
        rollout = Rollout.objects.get(pk=rollout.pk)
        return Response(RolloutSerializer(rollout, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        rollout = self.get_object()
        return Response(progress.snapshot(rollout.pk, request.user))

    @extend_schema(responses={200: RolloutDeviceSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def devices(self, request, pk=None):
        rollout = self.get_object()
        rows = RolloutDevice.objects.restrict(request.user, "view").filter(rollout=rollout)
        state = request.query_params.get("state")
        if state:
            if state not in DeviceState.values:
                raise ValidationError({"state": [f"{state!r} is not one of {DeviceState.values}"]})
            rows = rows.filter(state=state)
        paginator = DevicePages()
        page = paginator.paginate_queryset(rows.order_by("wave", "rank", "pk"), request, view=self)
        return paginator.get_paginated_response(RolloutDeviceSerializer(page, many=True).data)
