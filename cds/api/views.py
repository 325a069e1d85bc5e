"""REST: /api/devices/{id}/cds/ — the box's CDS storage (GET), and POST .../refresh/,
.../delete/ ({"service", "items", "reason"}) and .../resize/ ({"service", "capacity_mb"}).

Adapters over `cds.services.storage`: a refusal is a 400 whose text names the field or item; a box
another tenant owns is a 404; an act the user's role does not allow is a 403.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from cds import access, presenters
from cds.api.serializers import DeleteItemsSerializer, OperationSerializer, ResizeSerializer
from cds.services import storage as services


class DeviceCdsViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated]

    def _refused(self, exc: services.CdsError, field: str = "non_field_errors"):
        text = str(exc)
        name, sep, rest = text.partition(": ")
        if sep and name in ("reason", "items", "capacity_mb", "service"):
            return ValidationError({name: [rest]})
        return ValidationError({field: [text]})

    @extend_schema(responses={200: OpenApiResponse(description="The CDS storage snapshot")})
    def list(self, request, device_pk=None):
        device = access.visible_device(request.user, device_pk)
        return Response(presenters.device_storage(device))

    @extend_schema(request=None, responses={202: OperationSerializer})
    @action(detail=False, methods=["post"])
    def refresh(self, request, device_pk=None):
        device = access.actable_device(request.user, device_pk, "refresh")
        operation = services.refresh_storage(device, actor=request.user)
        return Response(presenters.operation_data(operation), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DeleteItemsSerializer, responses={202: OperationSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="delete")
    def delete_items(self, request, device_pk=None):
        device = access.actable_device(request.user, device_pk, "delete")
        body = DeleteItemsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            operations = services.delete_items(
                device, data["service"], data["items"], actor=request.user, reason=data["reason"]
            )
        except services.CdsError as exc:
            raise self._refused(exc, "items") from None
        return Response(
            [presenters.operation_data(op) for op in operations], status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=ResizeSerializer, responses={202: OperationSerializer})
    @action(detail=False, methods=["post"])
    def resize(self, request, device_pk=None):
        device = access.actable_device(request.user, device_pk, "resize")
        body = ResizeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            operation = services.resize_storage(
                device,
                data["service"],
                data["capacity_mb"],
                actor=request.user,
                reason=data.get("reason", ""),
            )
        except services.CdsError as exc:
            raise self._refused(exc, "service") from None
        return Response(presenters.operation_data(operation), status=status.HTTP_202_ACCEPTED)
