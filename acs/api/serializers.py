"""Serializers of the device API. Task creation goes through acs.services.tasks."""

from __future__ import annotations

from rest_framework import serializers

from acs.choices import TaskRpc
from acs.cwmp import messages as m
from acs.models import Device, Task
from fus.models import FirmwarePackage


class DeviceSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="device-detail")
    tasks_url = serializers.HyperlinkedIdentityField(
        view_name="device-tasks-list", lookup_url_kwarg="device_pk"
    )
    online = serializers.BooleanField(source="is_online", read_only=True)
    manufacturer_name = serializers.CharField(
        source="device_class.manufacturer.name", default=None, read_only=True
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "url",
            "tasks_url",
            "oui",
            "product_class",
            "serial_number",
            "manufacturer",
            "manufacturer_name",
            "device_class",
            "hardware_version",
            "software_version",
            "provisioning_code",
            "mac_address",
            "ip_address",
            "online",
            "online_until",
            "last_inform",
            "last_events",
            "last_boot",
            "last_bootstrap",
            "periodic_inform_interval",
            "cwmp_version",
            "root_object",
            "connection_request_url",
            "tags",
            "created",
            "updated",
        ]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    request = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "device",
            "rpc",
            "state",
            "request",
            "created",
            "created_by",
            "attempts",
            "max_attempts",
            "not_before",
            "expires",
            "sent",
            "completed",
            "fault_code",
            "fault_string",
            "result",
            "reason",
            "package",
            "command_key",
            "expected_software_version",
            "transfer_completed",
        ]
        read_only_fields = fields

    def get_request(self, task: Task) -> dict:
        return task.request


class TaskCreateSerializer(serializers.Serializer):
    """One ACS RPC for the device. Fields by `rpc`: `names` (GetParameterValues,
    GetParameterAttributes), `parameter_path` + `next_level` (GetParameterNames; the values of the
    names it lists are read next), `values` (SetParameterValues: name -> value, or name ->
    {"value", "type"} with a CWMP type), `object_name` (AddObject, DeleteObject), `delay_seconds`
    (ScheduleInform), `package` (Download: an approved firmware package id), `attributes`
    (SetParameterAttributes: [{"name", "notification", "access_list"?}])."""

    rpc = serializers.ChoiceField(choices=TaskRpc.choices)
    names = serializers.ListField(child=serializers.CharField(max_length=256), required=False)
    parameter_path = serializers.CharField(max_length=256, required=False, allow_blank=True)
    next_level = serializers.BooleanField(required=False, default=False)
    values = serializers.DictField(required=False)
    parameter_key = serializers.CharField(
        max_length=32, required=False, default="", allow_blank=True
    )
    object_name = serializers.CharField(max_length=256, required=False)
    delay_seconds = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    package = serializers.PrimaryKeyRelatedField(
        queryset=FirmwarePackage.objects.all(), required=False
    )
    attributes = serializers.ListField(child=serializers.DictField(), required=False)
    expires = serializers.DateTimeField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:  # another tenant's package is "does not exist"
            self.fields["package"].queryset = FirmwarePackage.objects.restrict(request.user, "view")

    def _need(self, attrs, *names):
        missing = {n: ["This field is required for this RPC."] for n in names if n not in attrs}
        if missing:
            raise serializers.ValidationError(missing)

    def validate(self, attrs):
        rpc = attrs["rpc"]
        if rpc in (TaskRpc.GET_PARAMETER_VALUES, TaskRpc.GET_PARAMETER_ATTRIBUTES):
            self._need(attrs, "names")
            if not attrs["names"]:
                raise serializers.ValidationError({"names": ["At least one name."]})
        elif rpc == TaskRpc.SET_PARAMETER_VALUES:
            self._need(attrs, "values")
            attrs["typed_values"] = self._typed(attrs["values"])
        elif rpc in (TaskRpc.ADD_OBJECT, TaskRpc.DELETE_OBJECT):
            self._need(attrs, "object_name")
        elif rpc == TaskRpc.DOWNLOAD:
            self._need(attrs, "package")
        elif rpc == TaskRpc.SET_PARAMETER_ATTRIBUTES:
            self._need(attrs, "attributes")
            attrs["attribute_changes"] = self._attributes(attrs["attributes"])
        return attrs

    def _typed(self, values: dict) -> dict[str, m.TypedValue]:
        if not values:
            raise serializers.ValidationError({"values": ["At least one parameter."]})
        out = {}
        for name, value in values.items():
            try:
                if isinstance(value, dict):
                    xsd_type = m.XsdType(value.get("type", "string"))
                    out[name] = m.TypedValue(str(value.get("value", "")), xsd_type)
                elif isinstance(value, bool | int | str):
                    out[name] = m.TypedValue.of(value)
                else:
                    raise ValueError(f"{value!r} is not a string, number or boolean")
            except ValueError as exc:
                raise serializers.ValidationError({"values": {name: [str(exc)]}}) from None
        return out

    def _attributes(self, items: list[dict]) -> tuple[m.ParameterAttributeChange, ...]:
        out = []
        for index, item in enumerate(items):
            try:
                notification = int(item.get("notification", 0))
                if not 0 <= notification <= 6:
                    raise ValueError(f"notification {notification} is not 0-6")
                access = item.get("access_list")
                out.append(
                    m.ParameterAttributeChange(
                        name=str(item["name"]),
                        notification_change="notification" in item,
                        notification=notification,
                        access_list_change=access is not None,
                        access_list=tuple(access or ()),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise serializers.ValidationError(
                    {"attributes": {str(index): [f"invalid attribute change: {exc}"]}}
                ) from None
        return tuple(out)
