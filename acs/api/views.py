"""Device REST API: /api/devices/ (keyset-paginated list, filters), /api/devices/{id}/,
/api/devices/{id}/tasks/ (list and create)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from acs.api.serializers import DeviceSerializer, TaskCreateSerializer, TaskSerializer
from acs.choices import TaskRpc
from acs.cwmp import messages as m
from acs.filtersets import DeviceFilterSet, TaskFilterSet
from acs.models import Device, Task
from acs.services import tasks as task_services
from portal.api.viewsets import RestrictedReadOnlyViewSet, RestrictedViewSetMixin
from portal.permissions import get_for_user_or_404


class KeysetPagination(CursorPagination):
    """Keyset pagination on the primary key: constant cost per page at any depth."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


class DeviceViewSet(RestrictedReadOnlyViewSet):
    queryset = Device.objects.select_related("device_class__manufacturer")
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    pagination_class = KeysetPagination


class DeviceTaskViewSet(
    RestrictedViewSetMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """The task queue of one device, oldest first. Creating a task needs the `add` permission on
    tasks and `change` on the device (help desk and NOC; not suppliers)."""

    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    pagination_class = KeysetPagination

    def device(self, action: str) -> Device:
        return get_for_user_or_404(Device, self.request.user, action, pk=self.kwargs["device_pk"])

    def get_queryset(self):
        device = self.device("view")
        return super().get_queryset().filter(device=device)

    def get_serializer_class(self):
        return TaskCreateSerializer if self.action == "create" else TaskSerializer

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def create(self, request, *args, **kwargs):
        device = self.device("change")
        serializer = TaskCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        try:
            task = self._queue(device, serializer.validated_data)
        except task_services.TaskError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(
            TaskSerializer(task, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def _queue(self, device: Device, data: dict) -> Task:
        actor = self.request.user
        rpc = data["rpc"]
        if rpc == TaskRpc.DOWNLOAD:
            return task_services.push_firmware(device, data["package"], actor=actor)
        if rpc == TaskRpc.SET_PARAMETER_VALUES:
            return task_services.set_parameter_values(
                device, data["typed_values"], actor=actor, parameter_key=data["parameter_key"]
            )
        if rpc == TaskRpc.ADD_OBJECT:
            return task_services.add_object(device, data["object_name"], actor=actor)
        if rpc == TaskRpc.DELETE_OBJECT:
            return task_services.delete_object(device, data["object_name"], actor=actor)
        messages = {
            TaskRpc.GET_RPC_METHODS: lambda: m.GetRPCMethods(),
            TaskRpc.GET_PARAMETER_NAMES: lambda: m.GetParameterNames(
                data.get("parameter_path") or f"{device.root_object or 'Device'}.",
                data["next_level"],
            ),
            TaskRpc.GET_PARAMETER_VALUES: lambda: m.GetParameterValues(tuple(data["names"])),
            TaskRpc.GET_PARAMETER_ATTRIBUTES: lambda: m.GetParameterAttributes(
                tuple(data["names"])
            ),
            TaskRpc.SET_PARAMETER_ATTRIBUTES: lambda: m.SetParameterAttributes(
                data["attribute_changes"]
            ),
            TaskRpc.REBOOT: lambda: m.Reboot(command_key="api-reboot"),
            TaskRpc.FACTORY_RESET: lambda: m.FactoryReset(),
            TaskRpc.SCHEDULE_INFORM: lambda: m.ScheduleInform(data.get("delay_seconds", 0)),
        }
        return task_services.queue_task(
            device, messages[rpc](), actor=actor, expires=data.get("expires")
        )
