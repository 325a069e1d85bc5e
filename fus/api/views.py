"""Catalogue REST API: /api/manufacturers/, /api/device-classes/, /api/firmware/."""

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from fus.api.serializers import (
    DeviceClassSerializer,
    FirmwareFileUploadSerializer,
    FirmwarePackageSerializer,
    FirmwareUploadSerializer,
    ManufacturerSerializer,
    RetireSerializer,
)
from fus.filtersets import DeviceClassFilterSet, FirmwarePackageFilterSet, ManufacturerFilterSet
from fus.metadata.codec import MAX_DOCUMENT_BYTES
from fus.models import DeviceClass, Manufacturer
from fus.services import catalogue
from fus.services.metadata import export_metadata, import_metadata
from fus.views import FIRMWARE_QS
from portal.api.viewsets import RestrictedModelViewSet


class XMLBodyParser(BaseParser):
    """The raw request body of an XML document, as bytes (at most the metadata size limit + 1
    byte, so that an oversized document is refused by the codec with its size, not read whole)."""

    media_type = "application/xml"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read(MAX_DOCUMENT_BYTES + 1) if stream is not None else b""


class TextXMLBodyParser(XMLBodyParser):
    media_type = "text/xml"


class MetadataImportSerializer(serializers.Serializer):
    """A metadata document as a multipart upload (`file`); or POST the XML itself as the body."""

    file = serializers.FileField()


class ImportSummarySerializer(serializers.Serializer):
    package = serializers.IntegerField(source="package.pk")
    created = serializers.BooleanField()
    namespace = serializers.CharField(source="namespace.prefix")
    summary = serializers.ListField(child=serializers.CharField(), source="lines")
    warnings = serializers.ListField(child=serializers.CharField())


class ManufacturerViewSet(RestrictedModelViewSet):
    queryset = Manufacturer.objects.prefetch_related("ouis")
    serializer_class = ManufacturerSerializer
    filterset_class = ManufacturerFilterSet

    def perform_create(self, serializer):
        with transaction.atomic():
            ouis = serializer.validated_data.pop("ouis")
            manufacturer = serializer.save()
            catalogue.set_manufacturer_ouis(manufacturer, ouis)

    def perform_update(self, serializer):
        with transaction.atomic():
            ouis = serializer.validated_data.pop("ouis", None)
            manufacturer = serializer.save()
            if ouis is not None:
                catalogue.set_manufacturer_ouis(manufacturer, ouis)


class DeviceClassViewSet(RestrictedModelViewSet):
    queryset = DeviceClass.objects.select_related("manufacturer")
    serializer_class = DeviceClassSerializer
    filterset_class = DeviceClassFilterSet


class FirmwarePackageViewSet(RestrictedModelViewSet):
    queryset = FIRMWARE_QS
    serializer_class = FirmwarePackageSerializer
    filterset_class = FirmwarePackageFilterSet
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    restrict_actions = {
        "approve": "approve",
        "retire": "approve",
        "validate": "change",
        "files": "change",
        "import_metadata": "add",
        "metadata_xml": "view",
    }

    def get_serializer_class(self):
        if self.action == "create":
            return FirmwareUploadSerializer
        return super().get_serializer_class()

    @extend_schema(request=FirmwareUploadSerializer, responses={201: FirmwarePackageSerializer})
    def create(self, request, *args, **kwargs):
        serializer = FirmwareUploadSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        files, signatures = data.pop("files"), data.pop("signatures")
        device_classes = list(data.pop("device_classes"))
        manufacturer = Manufacturer.objects.restrict(request.user).get(
            pk=device_classes[0].manufacturer_id
        )
        draft = catalogue.FirmwareDraft(device_classes=device_classes, **data)
        if files:
            uploads = catalogue.pair_signatures(files, signatures)
            package = catalogue.upload_firmware(manufacturer, draft, uploads, actor=request.user)
        else:
            package = catalogue.create_firmware(manufacturer, draft, actor=request.user)
        return Response(self._read(package), status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        dcs = data.pop("device_classes", None)
        catalogue.update_firmware(
            serializer.instance, data, actor=self.request.user, device_classes=dcs
        )

    def perform_destroy(self, instance):
        catalogue.delete_firmware(instance, actor=self.request.user)

    def _read(self, package):
        return FirmwarePackageSerializer(
            FIRMWARE_QS.get(pk=package.pk), context=self.get_serializer_context()
        ).data

    @extend_schema(request=None, responses=FirmwarePackageSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return Response(
            self._read(catalogue.approve_firmware(self.get_object(), actor=request.user))
        )

    @extend_schema(request=RetireSerializer, responses=FirmwarePackageSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        s = RetireSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        return Response(
            self._read(
                catalogue.retire_firmware(self.get_object(), actor=request.user, **s.validated_data)
            )
        )

    @extend_schema(request=None, responses=FirmwarePackageSerializer)
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        return Response(
            self._read(catalogue.validate_firmware(self.get_object(), actor=request.user))
        )

    @extend_schema(request=FirmwareFileUploadSerializer, responses=FirmwarePackageSerializer)
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def files(self, request, pk=None):
        package = self.get_object()
        s = FirmwareFileUploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        if getattr(data["file"], "error", ""):
            return Response({"file": [f"{data['file'].name}: {data['file'].error}."]}, status=400)
        upload = catalogue.pair_signatures(
            [data["file"]], [data["signature"]] if data.get("signature") else []
        )[0]
        upload.module_type = data["module_type"]
        upload.vendor_specific_info = data["vendor_specific_info"]
        catalogue.add_firmware_file(package, upload, actor=request.user)
        return Response(self._read(package), status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"application/xml": bytes, "multipart/form-data": MetadataImportSerializer},
        responses={201: ImportSummarySerializer, 200: ImportSummarySerializer},
        description="Create (201) or update (200) a package from RMS-FUS metadata XML. Any error "
        "refuses the whole document: 400 with every problem (line, element path, value).",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import-metadata",
        parser_classes=[XMLBodyParser, TextXMLBodyParser, MultiPartParser],
    )
    def import_metadata(self, request):
        if isinstance(request.data, bytes):
            data, source = request.data, "request body"
        else:
            upload = request.data.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationError({"file": ["Send the metadata XML as the body or as `file`."]})
            data, source = upload.read(MAX_DOCUMENT_BYTES + 1), upload.name
        summary = import_metadata(data, actor=request.user, source=f"REST: {source}")
        return Response(
            ImportSummarySerializer(summary).data,
            status=status.HTTP_201_CREATED if summary.created else status.HTTP_200_OK,
        )

    @extend_schema(responses={(200, "application/xml"): OpenApiResponse(description="metadata")})
    @action(detail=True, methods=["get"], url_path="metadata.xml")
    def metadata_xml(self, request, pk=None):
        package = self.get_object()
        response = HttpResponse(export_metadata(package), content_type="application/xml")
        response["Content-Disposition"] = (
            f'attachment; filename="{catalogue.safe_file_name(package.package_name)}.metadata.xml"'
        )
        return response
