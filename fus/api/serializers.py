"""Serializers of the catalogue API. Writes go through fus.services.catalogue."""

from rest_framework import serializers

from fus.choices import UpdateFlag, UpdateMethod, UpdatePriority
from fus.models import DeviceClass, FirmwareFile, FirmwarePackage, Manufacturer, SigningCertificate
from fus.validators import validate_version_string


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


class DeviceClassSerializer(serializers.ModelSerializer):
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["manufacturer"].queryset = Manufacturer.objects.restrict(
                request.user, "view"
            )

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


class FirmwarePackageSerializer(serializers.ModelSerializer):
    """A package as read; `POST /api/firmware/` takes FirmwareUploadSerializer."""

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
            "software_version",
            "package_name",
            "description",
            "status",
            "device_classes",
            "package_size",
            "files",
            "footprint_volatile",
            "footprint_non_volatile",
            "signed_packaging",
            "manifest",
            "update_flag",
            "update_method",
            "update_priority",
            "message_descriptor",
            "approved_by",
            "approved_at",
            "created",
            "updated",
        ]
        read_only_fields = ["manufacturer", "status", "approved_by", "approved_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["device_classes"].child_relation.queryset = DeviceClass.objects.restrict(
                request.user, "view"
            )


class FirmwareUploadSerializer(serializers.Serializer):
    """multipart/form-data: the metadata fields, `files` (one or more) and optional `signatures`.
    Without files (JSON), a draft package is created; add files with POST .../{id}/files/."""

    device_classes = serializers.PrimaryKeyRelatedField(
        many=True, queryset=DeviceClass.objects.all()
    )
    software_version = serializers.CharField(max_length=64, validators=[validate_version_string])
    package_name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    footprint_volatile = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, default=None
    )
    footprint_non_volatile = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, default=None
    )
    signed_packaging = serializers.BooleanField(required=False, default=False)
    manifest = serializers.BooleanField(required=False, default=False)
    update_flag = serializers.ChoiceField(choices=UpdateFlag.choices, default=UpdateFlag.AUTOMATIC)
    update_method = serializers.ChoiceField(
        choices=UpdateMethod.choices, default=UpdateMethod.NEXT_RESTART
    )
    update_priority = serializers.ChoiceField(
        choices=UpdatePriority.choices, default=UpdatePriority.NORMAL
    )
    message_descriptor = serializers.CharField(required=False, allow_blank=True, default="")
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False), required=False, default=list
    )
    signatures = serializers.ListField(child=serializers.FileField(), required=False, default=list)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["device_classes"].child_relation.queryset = DeviceClass.objects.restrict(
                request.user, "view"
            )

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
