"""Serializers of the catalogue API. Writes go through fus.services.catalogue."""

from rest_framework import serializers

from fus.models import DeviceClass, FirmwareFile, FirmwarePackage, Manufacturer, SigningCertificate
from fus.validators import validate_version_string
from portal.api.serializers import RestrictedRelationsMixin


class OUIListField(serializers.ListField):
    """Written as a list of OUI strings (any separators); read from the manufacturer's OUI rows."""

    child = serializers.CharField(max_length=20)

    def to_representation(self, data):
        return [o.oui for o in data.all()]


class ManufacturerSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="manufacturer-detail")
    ouis = OUIListField(min_length=1)

    class Meta:
        model = Manufacturer
        fields = [
            "id",
            "url",
            "name",
            "ouis",
            "reporting_orders_url",
            "download_location",
            "created",
            "updated",
        ]


class SigningCertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = SigningCertificate
        fields = [
            "id",
            "name",
            "subject",
            "issuer",
            "serial_number",
            "fingerprint_sha256",
            "not_before",
            "not_after",
        ]


class DeviceClassSerializer(RestrictedRelationsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="deviceclass-detail")
    hardware_versions = serializers.ListField(
        child=serializers.CharField(max_length=64, validators=[validate_version_string]),
        required=False,
    )

    class Meta:
        model = DeviceClass
        fields = [
            "id",
            "url",
            "manufacturer",
            "oui",
            "product_class",
            "description",
            "hardware_versions",
            "created",
            "updated",
        ]

    def validate(self, attrs):
        from fus.services.catalogue import check_device_class

        manufacturer = attrs.get("manufacturer") or getattr(self.instance, "manufacturer", None)
        oui = attrs.get("oui") or getattr(self.instance, "oui", None)
        if manufacturer and oui:
            attrs["oui"] = check_device_class(manufacturer, oui)
        return attrs


class FirmwareFileSerializer(serializers.ModelSerializer):
    signed = serializers.SerializerMethodField()

    class Meta:
        model = FirmwareFile
        fields = [
            "id",
            "file_name",
            "size",
            "sha256",
            "module_type",
            "vendor_specific_info",
            "signed",
            "signer",
            "signed_at",
        ]

    def get_signed(self, obj) -> bool:
        return bool(obj.signer)


class FirmwarePackageSerializer(RestrictedRelationsMixin, serializers.ModelSerializer):
    """A package as read, and edited (PATCH); `POST /api/firmware/` takes FirmwareUploadSerializer."""

    url = serializers.HyperlinkedIdentityField(view_name="firmwarepackage-detail")
    files = FirmwareFileSerializer(many=True, read_only=True)
    package_size = serializers.IntegerField(read_only=True)
    device_classes = serializers.PrimaryKeyRelatedField(
        many=True, queryset=DeviceClass.objects.all()
    )

    class Meta:
        model = FirmwarePackage
        fields = [
            "id",
            "url",
            "manufacturer",
            "status",
            "device_classes",
            *FirmwarePackage.METADATA_FIELDS,
            "package_size",
            "files",
            "approved_by",
            "approved_at",
            "created",
            "updated",
        ]
        read_only_fields = ["manufacturer", "status", "approved_by", "approved_at"]


class FirmwareUploadSerializer(RestrictedRelationsMixin, serializers.ModelSerializer):
    """multipart/form-data: the metadata fields, `files` (one or more) and optional `signatures`.
    Without files (JSON), a draft package is created; add files with POST .../{id}/files/."""

    device_classes = serializers.PrimaryKeyRelatedField(
        many=True, queryset=DeviceClass.objects.all()
    )
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False), required=False, default=list
    )
    signatures = serializers.ListField(child=serializers.FileField(), required=False, default=list)

    class Meta:
        model = FirmwarePackage
        fields = ["device_classes", *FirmwarePackage.METADATA_FIELDS, "files", "signatures"]

    def validate_files(self, files):
        for f in files:
            if getattr(f, "error", ""):
                raise serializers.ValidationError(f"{f.name}: {f.error}.")
        return files

    def validate_device_classes(self, dcs):
        if not dcs:
            raise serializers.ValidationError("Choose at least one device class.")
        if len({dc.manufacturer_id for dc in dcs}) > 1:
            raise serializers.ValidationError("Device classes of one manufacturer only.")
        return dcs


class FirmwareFileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    signature = serializers.FileField(required=False)
    module_type = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    vendor_specific_info = serializers.CharField(required=False, allow_blank=True, default="")


class RetireSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
