"""Choices of the ACS: task states and RPC names, device event kinds."""

from django.db import models

from portal.choices import AuditKind


class TaskState(models.TextChoices):
    """Lifecycle of an ACS task: queued -> sent -> done | fault | expired (see acs.services.tasks).

    A queued task whose RPC was abandoned (session dropped) goes back to queued with a backoff; a
    cancelled task is expired with the reason "cancelled".
    """

    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DONE = "done", "Done"
    FAULT = "fault", "Fault"
    EXPIRED = "expired", "Expired"


OPEN_TASK_STATES = (TaskState.QUEUED, TaskState.SENT)


class TaskRpc(models.TextChoices):
    """The ACS-initiated RPCs of acs.cwmp.messages (TR-069 Annex A)."""

    GET_RPC_METHODS = "GetRPCMethods"
    GET_PARAMETER_NAMES = "GetParameterNames"
    GET_PARAMETER_VALUES = "GetParameterValues"
    SET_PARAMETER_VALUES = "SetParameterValues"
    GET_PARAMETER_ATTRIBUTES = "GetParameterAttributes"
    SET_PARAMETER_ATTRIBUTES = "SetParameterAttributes"
    ADD_OBJECT = "AddObject"
    DELETE_OBJECT = "DeleteObject"
    DOWNLOAD = "Download"
    REBOOT = "Reboot"
    FACTORY_RESET = "FactoryReset"
    SCHEDULE_INFORM = "ScheduleInform"


class DeviceEventKind(models.TextChoices):
    """What a device-event row records."""

    INFORM = "inform", "Inform"
    REGISTERED = "registered", "Registered"
    SOFTWARE_CHANGED = "software_changed", "Software version changed"
    TASK = "task", "Task"
    TRANSFER = "transfer", "Transfer complete"
    REQUEST_DOWNLOAD = "request_download", "Download requested"
    PROTOCOL = "protocol", "Protocol violation"
    CONNECTION_REQUEST = "connection_request", "Connection request"
    CREDENTIALS = "credentials", "Credentials"


class AcsAuditKind:
    """The ACS's audit event kinds (members of portal.choices.AuditKind)."""

    TASK_QUEUED = AuditKind.ACS_TASK_QUEUED
    TASK_CANCELLED = AuditKind.ACS_TASK_CANCELLED
    TASK_RETRIED = AuditKind.ACS_TASK_RETRIED
    CREDENTIALS_SET = AuditKind.ACS_CREDENTIALS_SET
    CONNECTION_REQUESTED = AuditKind.ACS_CONNECTION_REQUEST
