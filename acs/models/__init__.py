from acs.models.devices import Device, DeviceEvent, DeviceParameters, SoftwareVersionChange
from acs.models.sessions import CwmpNonce, CwmpSession, SessionTranscript
from acs.models.tasks import Task

__all__ = [
    "CwmpNonce",
    "CwmpSession",
    "Device",
    "DeviceEvent",
    "DeviceParameters",
    "SessionTranscript",
    "SoftwareVersionChange",
    "Task",
]
